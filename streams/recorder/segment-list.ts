// Lines ffmpeg's segment muxer writes to `-segment_list pipe:3 -segment_list_type csv` when it
// closes a segment: "<file>,<start>,<end>" with times in seconds of the output timeline. File
// names containing a comma or quote are CSV-quoted by ffmpeg.

export interface SegmentListEntry {
  file: string;
  startSeconds: number;
  endSeconds: number;
}

export function parseSegmentListLine(line: string): SegmentListEntry | null {
  const m = /^(?:"((?:[^"]|"")*)"|([^",]*)),(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?)\s*$/.exec(line.trim());
  if (!m) return null;
  const file = m[1] !== undefined ? m[1].replace(/""/g, '"') : m[2];
  const startSeconds = Number(m[3]);
  const endSeconds = Number(m[4]);
  if (!file || !Number.isFinite(startSeconds) || !Number.isFinite(endSeconds) || endSeconds < startSeconds) return null;
  return { file, startSeconds, endSeconds };
}
