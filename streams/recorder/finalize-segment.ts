// Turns a closed segment file into an index entry: size, sha256 (streamed, a segment can be
// hundreds of MB), ffprobe verdict, and — for a file still in .partial/ — its move into the
// dated layout under the name of its start time.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rename, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import { existsSync } from 'node:fs';
import { probeFile, type ProbeResult } from '../ffmpeg/probe.js';
import type { SegmentDraft } from '../index/segment-index.js';
import { segmentRelPath } from './layout.js';

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * A file ffmpeg created but never wrote a frame into: empty, or a bare header/trailer
 * (< 4 KiB, no media) — e.g. the next segment opened just before a graceful stop. Such a file
 * holds no recording, so it is removed rather than indexed as corrupt.
 */
export async function isEmptyShell(ffprobe: string, file: string): Promise<boolean> {
  const size = (await stat(file)).size;
  if (size === 0) return true;
  if (size >= 4096) return false;
  return !(await probeFile(ffprobe, file)).ok;
}

export interface FinalizeInput {
  recordingsDir: string;
  camera: string;
  ffprobe: string;
  /** Absolute path of the closed file (in .partial/ or already in the layout). */
  file: string;
  /**
   * Known start (a layout file: from its name) — otherwise the start is `end - duration`.
   */
  start?: Date;
  /** When the segment ended: the moment ffmpeg reported it, or the file's mtime after a crash. */
  end?: Date;
  /** Duration from ffmpeg's segment list, used when ffprobe cannot tell. */
  durationHint?: number;
  session: (startMs: number) => string | null;
  recovered: boolean;
}

export interface FinalizedSegment {
  draft: SegmentDraft;
  probe: ProbeResult;
}

export async function finalizeSegment(input: FinalizeInput): Promise<FinalizedSegment> {
  const st = await stat(input.file);
  const probe = await probeFile(input.ffprobe, input.file);
  const sha256 = await sha256File(input.file);
  const duration = probe.ok ? probe.durationSeconds : (input.durationHint ?? 0);
  const durationMs = Math.round(duration * 1000);
  let start: Date;
  let end: Date;
  if (input.start) {
    start = input.start;
    end = new Date(start.getTime() + durationMs);
  } else {
    end = input.end ?? st.mtime;
    start = new Date(end.getTime() - durationMs);
  }
  let file = input.file;
  const inLayout = relative(input.recordingsDir, file).split(sep).length === 3 && !basename(dirname(file)).startsWith('.');
  if (!inLayout) {
    const ext = file.endsWith('.ts') ? 'ts' : 'mp4';
    const rel = segmentRelPath(input.camera, start, ext, (r) => existsSync(join(input.recordingsDir, r)));
    const target = join(input.recordingsDir, rel);
    await mkdir(dirname(target), { recursive: true });
    await rename(file, target);
    file = target;
  }
  const path = relative(input.recordingsDir, file).split(sep).join('/');
  return {
    probe,
    draft: {
      camera: input.camera,
      path,
      start: start.toISOString(),
      end: end.toISOString(),
      durationSeconds: duration,
      bytes: st.size,
      sha256,
      status: probe.ok ? 'ok' : 'corrupt',
      session: input.session(start.getTime()),
      recovered: input.recovered,
    },
  };
}
