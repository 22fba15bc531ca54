// One JPEG from ffmpeg: a frame grabbed from a stream (RTSP or anything ffmpeg opens), or a
// JPEG re-encoded smaller. A short-lived child, spawned with an argument array, killed when it
// overruns its time (SIGTERM, then SIGKILL) or its output grows past a hard cap.
import { spawn } from 'node:child_process';
import { redactCredentials } from '../ffmpeg/redact.js';

export class FrameGrabError extends Error {
  override name = 'FrameGrabError';
}

export interface FrameOptions {
  ffmpegPath?: string;
  /** Whole run. Default 15 s. */
  timeoutMs?: number;
  /** Scale down to at most this width (keeps aspect ratio). */
  maxWidth?: number;
  /** mjpeg qscale, 2 (best) .. 31 (smallest). Default 5. */
  quality?: number;
  /** Output beyond this is an error (and ffmpeg is killed). Default 32 MiB. */
  hardCapBytes?: number;
}

function outputArgs(o: FrameOptions): string[] {
  const filters = ['format=yuvj420p'];
  if (o.maxWidth) filters.unshift(`scale='min(iw,${Math.floor(o.maxWidth)})':-2`);
  return ['-an', '-frames:v', '1', '-vf', filters.join(','), '-q:v', String(o.quality ?? 5), '-f', 'image2', '-c:v', 'mjpeg', 'pipe:1'];
}

/** Arguments for grabbing one frame from a stream URL or file (exported for tests/inspection). */
export function grabArgs(input: string, o: FrameOptions = {}): string[] {
  const timeoutMs = o.timeoutMs ?? 15_000;
  const isRtsp = /^rtsps?:/i.test(input);
  return [
    '-hide_banner',
    '-loglevel',
    'error',
    '-nostdin',
    // TCP interleaving: UDP RTP through NAT/firewalls loses packets and gives grey frames.
    ...(isRtsp ? ['-rtsp_transport', 'tcp', '-timeout', String(timeoutMs * 1000)] : []),
    '-i',
    input,
    ...outputArgs(o),
  ];
}

function run(args: string[], o: FrameOptions, stdin?: Buffer): Promise<Buffer> {
  const timeoutMs = o.timeoutMs ?? 15_000;
  const cap = o.hardCapBytes ?? 32 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    const child = spawn(o.ffmpegPath ?? 'ffmpeg', args, { stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let size = 0;
    let stderr = '';
    let failure: string | null = null;
    let killTimer: NodeJS.Timeout | undefined;
    const stop = (why: string) => {
      if (failure) return;
      failure = why;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), 2000);
      killTimer.unref();
    };
    const timer = setTimeout(() => stop(`ffmpeg gave no frame within ${timeoutMs} ms`), timeoutMs);
    child.stdout!.on('data', (c: Buffer) => {
      size += c.length;
      if (size > cap) stop(`ffmpeg output larger than ${cap} bytes`);
      else chunks.push(c);
    });
    child.stderr!.on('data', (c: Buffer) => {
      if (stderr.length < 4096) stderr += c.toString('utf8');
    });
    if (stdin) {
      child.stdin!.on('error', () => {
        /* ffmpeg may exit before reading everything; its exit code tells */
      });
      child.stdin!.end(stdin);
    }
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new FrameGrabError(`cannot run ffmpeg: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      if (failure) return reject(new FrameGrabError(failure));
      const out = Buffer.concat(chunks);
      if (code !== 0 || out.length === 0) {
        const detail = redactCredentials(stderr.trim().split('\n').slice(-3).join(' | ')) || `exit ${code ?? signal}`;
        return reject(new FrameGrabError(`ffmpeg could not grab a frame: ${detail}`));
      }
      resolve(out);
    });
  });
}

/** One frame from a stream URL or file, as JPEG. */
export function grabFrame(input: string, o: FrameOptions = {}): Promise<Buffer> {
  return run(grabArgs(input, o), o);
}

/** Re-encodes a JPEG (smaller width and/or coarser quality). */
export function reencodeJpeg(jpeg: Buffer, o: FrameOptions = {}): Promise<Buffer> {
  const args = ['-hide_banner', '-loglevel', 'error', '-f', 'jpeg_pipe', '-i', 'pipe:0', ...outputArgs(o)];
  return run(args, o, jpeg);
}
