// ffprobe of a recorded segment: is it playable, how long is it, what does it carry. A file
// ffprobe cannot read, or one without a single stream or with no duration, is "corrupt": the
// caller still indexes it (marked), so nothing disappears silently.
import { execFile } from 'node:child_process';

export interface ProbedStream {
  type: string;
  codec: string;
}

export interface ProbeResult {
  ok: boolean;
  durationSeconds: number;
  streams: ProbedStream[];
  /** Why the file is considered corrupt (never contains credentials: it is a local file). */
  error?: string;
}

interface FfprobeJson {
  format?: { duration?: string };
  streams?: Array<{ codec_type?: string; codec_name?: string; duration?: string }>;
}

export function probeFile(ffprobe: string, file: string, timeoutMs = 30_000): Promise<ProbeResult> {
  const args = ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', file];
  return new Promise((resolve) => {
    execFile(ffprobe, args, { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        const why = (stderr || err.message).trim().split('\n').slice(-1)[0] ?? 'ffprobe failed';
        return resolve({ ok: false, durationSeconds: 0, streams: [], error: why.slice(0, 300) });
      }
      let json: FfprobeJson;
      try {
        json = JSON.parse(stdout) as FfprobeJson;
      } catch {
        return resolve({ ok: false, durationSeconds: 0, streams: [], error: 'ffprobe printed invalid JSON' });
      }
      const streams = (json.streams ?? []).map((s) => ({ type: s.codec_type ?? 'unknown', codec: s.codec_name ?? 'unknown' }));
      let duration = Number.parseFloat(json.format?.duration ?? '');
      if (!Number.isFinite(duration)) {
        duration = Math.max(0, ...(json.streams ?? []).map((s) => Number.parseFloat(s.duration ?? '') || 0));
      }
      const hasMedia = streams.some((s) => s.type === 'video' || s.type === 'audio');
      const ok = hasMedia && duration > 0;
      resolve({
        ok,
        durationSeconds: Number.isFinite(duration) ? duration : 0,
        streams,
        ...(ok ? {} : { error: hasMedia ? 'no media duration (no complete fragment)' : 'no audio or video stream' }),
      });
    });
  });
}
