// ffmpeg progress, from either source it offers: the `-progress pipe:N` key=value blocks
// (ending in `progress=continue|end`) or the human stats line on stderr
// ("frame=  118 fps= 13 q=-1.0 size=N/A time=00:00:11.60 bitrate=N/A speed=1.29x").
// Lines are fed one at a time; garbage is ignored, never thrown.

export interface FfmpegProgress {
  /** Frames written so far (0 when ffmpeg reports none, e.g. audio only). */
  frame: number;
  /** Output timestamp in seconds. */
  outTimeSeconds: number;
  /** Bytes written (null when ffmpeg says N/A, as the segment muxer does). */
  totalSize: number | null;
  /** Processing speed relative to real time (null when unknown). */
  speed: number | null;
}

function num(s: string | undefined): number | null {
  if (s === undefined) return null;
  const v = Number.parseFloat(s);
  return Number.isFinite(v) ? v : null;
}

/** "HH:MM:SS.ss" (possibly negative) → seconds. */
function clock(s: string | undefined): number | null {
  if (!s) return null;
  const m = /^(-)?(\d+):(\d{1,2}):(\d{1,2}(?:\.\d+)?)$/.exec(s.trim());
  if (!m) return null;
  const v = Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4]);
  return m[1] ? -v : v;
}

const STATS_FIELD = /(\w+)=\s*(\S+)/g;

export class ProgressParser {
  private block = new Map<string, string>();

  /** Feeds one line; returns a progress snapshot when one is complete. */
  feed(line: string): FfmpegProgress | null {
    const trimmed = line.trim();
    if (!trimmed) return null;
    // Stats line: several key=value pairs on one line, starting with frame= or size=.
    if (/^(frame|size)=/.test(trimmed) && /\s\w+=/.test(trimmed)) {
      const fields = new Map<string, string>();
      for (const m of trimmed.matchAll(STATS_FIELD)) fields.set(m[1], m[2]);
      return this.snapshot(fields, 'stats');
    }
    const eq = trimmed.indexOf('=');
    if (eq <= 0) return null;
    const key = trimmed.slice(0, eq);
    const value = trimmed.slice(eq + 1);
    if (!/^[\w.]+$/.test(key)) return null;
    if (key === 'progress') {
      const snap = this.snapshot(this.block, 'progress');
      this.block = new Map();
      return snap;
    }
    if (this.block.size < 64) this.block.set(key, value);
    return null;
  }

  private snapshot(f: Map<string, string>, kind: 'stats' | 'progress'): FfmpegProgress | null {
    const frame = num(f.get('frame'));
    let outTime: number | null;
    if (kind === 'progress') {
      const us = num(f.get('out_time_us')) ?? num(f.get('out_time_ms'));
      outTime = us !== null ? us / 1e6 : clock(f.get('out_time'));
    } else {
      outTime = clock(f.get('time'));
    }
    if (frame === null && outTime === null) return null;
    let totalSize: number | null;
    if (kind === 'progress') totalSize = num(f.get('total_size'));
    else {
      const m = /^(\d+)(k?i?B)$/i.exec(f.get('size') ?? '');
      totalSize = m ? Number(m[1]) * (m[2].toLowerCase().startsWith('k') ? 1024 : 1) : null;
    }
    const speedStr = f.get('speed');
    const speed = speedStr && speedStr.endsWith('x') ? num(speedStr.slice(0, -1)) : null;
    return {
      frame: frame !== null && frame >= 0 ? frame : 0,
      outTimeSeconds: outTime !== null && outTime >= 0 ? outTime : 0,
      totalSize,
      speed,
    };
  }
}
