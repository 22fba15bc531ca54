// Where segments live: <recordings>/<camera>/<YYYY-MM-DD>/<HH-MM-SS>.<ext>, UTC, named after the
// segment's start. ffmpeg itself writes into <camera>/.partial/<run>-<n>.<ext>; a segment is
// moved into the dated layout once ffmpeg reports it finished (or by reconciliation after a
// crash). Why not ffmpeg's `-strftime 1` straight into the layout: strftime names have one-second
// resolution and the segment muxer silently overwrites an existing name (we saw two segments
// open in the same second after an RTSP connect burst: the first was lost); `-segment_list`
// reports only base names; and the muxer creates no directories, so the date rollover would
// need its own machinery. Renaming on completion solves all three and keeps the layout free of
// half-written files.
import { join } from 'node:path';

export const PARTIAL_DIR = '.partial';

export type SegmentFormat = 'mp4' | 'ts';

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

export function utcDate(d: Date): string {
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

export function utcTime(d: Date): string {
  return `${pad(d.getUTCHours())}-${pad(d.getUTCMinutes())}-${pad(d.getUTCSeconds())}`;
}

/**
 * Relative path for a segment of `camera` starting at `start`. `taken` says whether a path is
 * already used (two segments in the same second): then `_1`, `_2`... is appended.
 */
export function segmentRelPath(camera: string, start: Date, ext: string, taken: (rel: string) => boolean): string {
  const base = `${camera}/${utcDate(start)}/${utcTime(start)}`;
  let rel = `${base}.${ext}`;
  for (let i = 1; taken(rel); i++) rel = `${base}_${i}.${ext}`;
  return rel;
}

const SEGMENT_PATH = /^([^/]+)\/(\d{4})-(\d{2})-(\d{2})\/(\d{2})-(\d{2})-(\d{2})(?:_\d+)?\.(mp4|ts)$/;

/** Camera and start time (second resolution) from a relative segment path, or null. */
export function parseSegmentPath(rel: string): { camera: string; start: Date; ext: SegmentFormat } | null {
  const m = SEGMENT_PATH.exec(rel);
  if (!m) return null;
  const [, camera, y, mo, d, h, mi, s, ext] = m;
  const start = new Date(Date.UTC(+y, +mo - 1, +d, +h, +mi, +s));
  if (Number.isNaN(start.getTime()) || utcDate(start) !== `${y}-${mo}-${d}`) return null;
  return { camera, start, ext: ext as SegmentFormat };
}

export function partialDir(recordingsDir: string, camera: string): string {
  return join(recordingsDir, camera, PARTIAL_DIR);
}
