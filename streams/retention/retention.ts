// Keeps the recordings disk within budget. Each pass:
//  1. deletes segments past keepDays (whatever their upload state: that is the retention);
//  2. while free space is below minFree + the database reserve, deletes the oldest segments the
//     center already has (uploaded) or an inspector has seen — never one still awaiting either;
//  3. if still short: 'disk-full' (once per episode);
//  4. allows new recordings only while free space stays above the database reserve, so the
//     SQLite file (attendance — money) can always grow; recording resumes once space is back;
//  5. removes empty day directories of past days.
import { EventEmitter } from 'node:events';
import { readdir, rmdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { CameraEvent } from '../types.js';
import type { IndexedSegment, SegmentIndex } from '../index/segment-index.js';
import { utcDate } from '../recorder/layout.js';
import { silentLogger, type StreamsLogger } from '../logger.js';
import { statfsFreeBytes } from './free-space.js';

export interface RetentionOptions {
  index: SegmentIndex;
  recordingsDir: string;
  keepDays: number;
  minFreeBytes: number;
  /** Space kept free for the SQLite database whatever recordings need. */
  reserveBytes: number;
  /** Injectable for tests (a tiny fake budget); default statfs of recordingsDir. */
  freeBytes?: () => Promise<number>;
  intervalMs?: number;
  now?: () => number;
  logger?: StreamsLogger;
}

export interface RetentionReport {
  deletedExpired: number;
  deletedForSpace: number;
  freeBytes: number;
  short: boolean;
  recordingAllowed: boolean;
  removedDirs: number;
}

export interface RetentionEvents {
  event: [CameraEvent];
  /** Recording may (true) or may not (false) start: follows free space vs the DB reserve. */
  'recording-allowed': [boolean];
  deleted: [IndexedSegment];
}

export class Retention extends EventEmitter<RetentionEvents> {
  private timer: NodeJS.Timeout | null = null;
  private pass: Promise<RetentionReport> | null = null;
  private again = false;
  private diskFull = false;
  private allowed = true;
  private readonly freeBytes: () => Promise<number>;
  private readonly now: () => number;
  private readonly log: StreamsLogger;

  constructor(private readonly opts: RetentionOptions) {
    super();
    this.freeBytes = opts.freeBytes ?? statfsFreeBytes(opts.recordingsDir);
    this.now = opts.now ?? Date.now;
    this.log = opts.logger ?? silentLogger;
  }

  get recordingAllowed(): boolean {
    return this.allowed;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.run().catch(() => {}), this.opts.intervalMs ?? 60_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.pass?.catch(() => {});
  }

  /** Runs a pass now (or right after the one in progress). */
  run(): Promise<RetentionReport> {
    if (this.pass) {
      this.again = true;
      return this.pass;
    }
    this.pass = this.runOnce().finally(() => {
      this.pass = null;
      if (this.again) {
        this.again = false;
        void this.run().catch(() => {});
      }
    });
    return this.pass;
  }

  private async runOnce(): Promise<RetentionReport> {
    const { index } = this.opts;
    const cutoff = new Date(this.now() - this.opts.keepDays * 86_400_000).toISOString();
    let deletedExpired = 0;
    for (;;) {
      const batch = index.expired(cutoff, 200);
      if (batch.length === 0) break;
      let progress = 0;
      for (const seg of batch) if (await this.remove(seg)) (deletedExpired++, progress++);
      if (progress === 0) break;
    }

    const target = this.opts.minFreeBytes + this.opts.reserveBytes;
    let free = await this.freeBytes();
    let deletedForSpace = 0;
    while (free < target) {
      const batch = index.deletableCandidates(cutoff, 20);
      if (batch.length === 0) break;
      let progress = 0;
      for (const seg of batch) {
        if (free >= target) break;
        if (await this.remove(seg)) {
          deletedForSpace++;
          progress++;
          free = await this.freeBytes();
        }
      }
      if (progress === 0) break;
    }

    const short = free < target;
    if (short && !this.diskFull) {
      this.diskFull = true;
      const totals = index.totals();
      this.emit('event', {
        type: 'disk-full',
        message:
          `recordings disk is short of space (${mb(free)} MB free, ${mb(target)} MB wanted) and only ` +
          `segments awaiting upload or inspection remain`,
        detail: { freeBytes: free, targetBytes: target, protectedSegments: totals.protectedCount, protectedBytes: totals.protectedBytes },
      });
      this.log.warn({ freeBytes: free, targetBytes: target }, 'recordings disk full');
    } else if (!short) {
      this.diskFull = false;
    }

    // Hysteresis: once stopped, restart only with some room above the reserve, so recording
    // does not flap on every segment.
    const resumeAt = this.opts.reserveBytes + Math.min(this.opts.minFreeBytes, 256 * 1024 * 1024) / 2;
    const allowed = this.allowed ? free >= this.opts.reserveBytes : free >= resumeAt;
    if (allowed !== this.allowed) {
      this.allowed = allowed;
      this.log.warn({ freeBytes: free, allowed }, allowed ? 'recording resumes: space is back' : 'recording stopped: database reserve reached');
      if (!allowed) {
        this.emit('event', {
          type: 'disk-low',
          message: `recording stopped: ${mb(free)} MB free is within the ${mb(this.opts.reserveBytes)} MB kept for the database`,
          detail: { freeBytes: free, reserveBytes: this.opts.reserveBytes },
        });
      }
      this.emit('recording-allowed', allowed);
    }

    const removedDirs = await this.removeEmptyDays();
    return { deletedExpired, deletedForSpace, freeBytes: free, short, recordingAllowed: this.allowed, removedDirs };
  }

  private async remove(seg: IndexedSegment): Promise<boolean> {
    try {
      await unlink(join(this.opts.recordingsDir, seg.path));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.log.error({ path: seg.path, err: String(err) }, 'could not delete segment');
        return false;
      }
    }
    this.opts.index.delete([seg.id]);
    this.emit('deleted', seg);
    return true;
  }

  /** Empty <camera>/<day>/ directories of days before today (today's may be about to fill). */
  private async removeEmptyDays(): Promise<number> {
    const today = utcDate(new Date(this.now()));
    let removed = 0;
    for (const camera of await list(this.opts.recordingsDir)) {
      if (camera.startsWith('.')) continue;
      for (const day of await list(join(this.opts.recordingsDir, camera))) {
        if (day.startsWith('.') || !/^\d{4}-\d{2}-\d{2}$/.test(day) || day >= today) continue;
        const dir = join(this.opts.recordingsDir, camera, day);
        if ((await list(dir)).length > 0) continue;
        try {
          await rmdir(dir);
          removed++;
        } catch {
          /* not empty after all, or gone: fine */
        }
      }
    }
    return removed;
  }
}

async function list(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}

const mb = (b: number): number => Math.round(b / 1e6);
