// Start-up (and after-crash) reconciliation between the recordings directory and the index:
// - files ffmpeg left in <camera>/.partial/ (it was killed mid-segment): probed — a fragmented
//   MP4 cut mid-fragment still plays up to its last complete fragment — hashed, moved into the
//   layout and indexed with recovered=true;
// - layout files the index does not know (the gateway died between the move and the insert):
//   indexed the same way, their start taken from the name;
// - indexed segments whose file is gone: marked missing, reported with a 'segment-missing' event.
// Must not run for a camera whose ffmpeg is running (its .partial/ file is still being written).
import { readdir, stat, unlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CameraEvent } from '../types.js';
import type { IndexedSegment } from '../index/segment-index.js';
import { finalizeSegment, isEmptyShell } from './finalize-segment.js';
import { parseSegmentPath, PARTIAL_DIR } from './layout.js';
import type { SegmentSink } from './segment-sink.js';
import { silentLogger, type StreamsLogger } from '../logger.js';

export interface ReconcileOptions {
  recordingsDir: string;
  ffprobe: string;
  sink: SegmentSink;
  session: (startMs: number) => string | null;
  /** Only these cameras (default: every camera directory found on disk). */
  cameras?: string[];
  /** Also check indexed segments against the disk (start-up: yes; after one ffmpeg exit: no). */
  checkMissing?: boolean;
  onEvent?: (e: CameraEvent) => void;
  logger?: StreamsLogger;
}

export interface ReconcileResult {
  recovered: IndexedSegment[];
  missing: IndexedSegment[];
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

/**
 * Probes, hashes, moves into the layout (if not there yet) and indexes one file found after a
 * crash, flagged recovered. Null when it cannot be made a segment (logged as `what`).
 */
async function recoverFile(opts: ReconcileOptions, camera: string, file: string, what: string, start?: Date): Promise<IndexedSegment | null> {
  try {
    const { draft, probe } = await finalizeSegment({
      recordingsDir: opts.recordingsDir,
      camera,
      ffprobe: opts.ffprobe,
      file,
      start,
      session: opts.session,
      recovered: true,
    });
    return opts.sink.accept(draft, probe);
  } catch (err) {
    (opts.logger ?? silentLogger).error({ camera, file, err: String(err) }, what);
    return null;
  }
}

/** Recovers the leftovers of one camera's ffmpeg runs (files in .partial/), oldest first. */
export async function recoverPartials(
  opts: ReconcileOptions,
  camera: string,
  /** Only files of one ffmpeg run (a newer run may already be writing its own). */
  runPrefix?: string,
): Promise<IndexedSegment[]> {
  const dir = join(opts.recordingsDir, camera, PARTIAL_DIR);
  const names = (await listDir(dir))
    .filter((n) => (n.endsWith('.mp4') || n.endsWith('.ts')) && (!runPrefix || n.startsWith(runPrefix)))
    .sort();
  const out: IndexedSegment[] = [];
  for (const name of names) {
    const file = join(dir, name);
    if (!(await isFile(file))) continue;
    if (await isEmptyShell(opts.ffprobe, file)) {
      // ffmpeg opened the next segment and was stopped before a single frame reached it: no
      // media was ever in it, so there is nothing to keep or to report as corrupt.
      (opts.logger ?? silentLogger).info({ camera, file: name }, 'removing segment file without media');
      await unlink(file).catch(() => {});
      continue;
    }
    const seg = await recoverFile(opts, camera, file, 'could not recover segment');
    if (seg) out.push(seg);
  }
  return out;
}

export async function reconcile(opts: ReconcileOptions): Promise<ReconcileResult> {
  const log = opts.logger ?? silentLogger;
  const recovered: IndexedSegment[] = [];
  const missing: IndexedSegment[] = [];
  const cameras =
    opts.cameras ?? (await listDir(opts.recordingsDir)).filter((n) => !n.startsWith('.'));
  for (const camera of cameras) {
    recovered.push(...(await recoverPartials(opts, camera)));
    // Layout files not in the index.
    for (const day of (await listDir(join(opts.recordingsDir, camera))).filter((d) => !d.startsWith('.')).sort()) {
      for (const name of (await listDir(join(opts.recordingsDir, camera, day))).sort()) {
        const rel = `${camera}/${day}/${name}`;
        const parsed = parseSegmentPath(rel);
        if (!parsed || opts.sink.index.byPath(rel)) continue;
        const file = join(opts.recordingsDir, rel);
        if (!(await isFile(file))) continue;
        const seg = await recoverFile(opts, camera, file, 'could not index segment found on disk', parsed.start);
        if (seg) recovered.push(seg);
      }
    }
  }
  if (opts.checkMissing !== false) {
    const wanted = opts.cameras ? new Set(opts.cameras) : null;
    for (const seg of opts.sink.index.list()) {
      if (seg.status === 'missing' || (wanted && !wanted.has(seg.camera))) continue;
      if (existsSync(join(opts.recordingsDir, seg.path))) continue;
      opts.sink.index.markMissing([seg.id]);
      missing.push({ ...seg, status: 'missing' });
      opts.onEvent?.({
        type: 'segment-missing',
        camera: seg.camera,
        message: `segment ${seg.path} of camera ${seg.camera} is indexed but its file is gone`,
        detail: { id: seg.id, path: seg.path, start: seg.start, uploaded: seg.uploaded },
      });
    }
  }
  if (recovered.length || missing.length) {
    log.info({ recovered: recovered.length, missing: missing.length }, 'recordings reconciled');
  }
  return { recovered, missing };
}
