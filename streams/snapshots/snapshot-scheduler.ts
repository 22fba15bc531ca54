// Periodic snapshots: every intervalSeconds per camera, grab and emit ('snapshot', camera, jpeg).
// A failing camera is counted and retried next period; nothing is thrown out of the timers.
// Each camera's next grab is scheduled when its previous one ends, so a slow camera never has
// two grabs (two ffmpeg children) in flight. Cameras are staggered across the first period.
import { EventEmitter } from 'node:events';
import type { Snapshotter } from './snapshotter.js';

export interface SnapshotSchedulerEvents {
  snapshot: [camera: string, jpeg: Buffer];
  /** Not 'error': an unhandled 'error' event would throw, and a bad camera must not. */
  failure: [camera: string, error: Error];
}

export interface SnapshotCameraStats {
  ok: number;
  errors: number;
  consecutiveErrors: number;
  lastError: string | null;
  lastSnapshotAt: string | null;
  lastBytes: number | null;
}

export interface SnapshotSchedulerOptions {
  snapshotter: Snapshotter;
  cameras: string[];
  intervalSeconds: number;
  /** Delay before the first grab of camera i is i × stagger. Default interval / cameras. */
  staggerMs?: number;
}

export class SnapshotScheduler extends EventEmitter<SnapshotSchedulerEvents> {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly counters = new Map<string, SnapshotCameraStats>();
  private running = false;

  constructor(private readonly opts: SnapshotSchedulerOptions) {
    super();
    for (const c of opts.cameras) {
      this.counters.set(c, { ok: 0, errors: 0, consecutiveErrors: 0, lastError: null, lastSnapshotAt: null, lastBytes: null });
    }
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const intervalMs = this.opts.intervalSeconds * 1000;
    const stagger = this.opts.staggerMs ?? Math.floor(intervalMs / Math.max(1, this.opts.cameras.length));
    this.opts.cameras.forEach((camera, i) => this.schedule(camera, i * stagger));
  }

  private schedule(camera: string, delayMs: number): void {
    if (!this.running) return;
    const t = setTimeout(() => {
      this.timers.delete(camera);
      const p = this.tick(camera).finally(() => {
        this.inFlight.delete(p);
        this.schedule(camera, this.opts.intervalSeconds * 1000);
      });
      this.inFlight.add(p);
    }, delayMs);
    this.timers.set(camera, t);
  }

  private async tick(camera: string): Promise<void> {
    const s = this.counters.get(camera)!;
    try {
      const jpeg = await this.opts.snapshotter.grab(camera);
      if (!this.running) return;
      s.ok++;
      s.consecutiveErrors = 0;
      s.lastSnapshotAt = new Date().toISOString();
      s.lastBytes = jpeg.length;
      this.safeEmit('snapshot', camera, jpeg);
    } catch (err) {
      s.errors++;
      s.consecutiveErrors++;
      s.lastError = err instanceof Error ? err.message : String(err);
      if (this.running) this.safeEmit('failure', camera, err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** A throwing listener is a bug elsewhere; it must not stop this camera's snapshots. */
  private safeEmit<K extends keyof SnapshotSchedulerEvents>(event: K, ...args: SnapshotSchedulerEvents[K]): void {
    try {
      (this.emit as (e: string, ...a: unknown[]) => boolean)(event, ...args);
    } catch {
      /* swallowed on purpose, see above */
    }
  }

  stats(): Record<string, SnapshotCameraStats> {
    return Object.fromEntries([...this.counters].map(([k, v]) => [k, { ...v }]));
  }

  /** Clears timers and waits for grabs in flight (their results are dropped). */
  async stop(): Promise<void> {
    this.running = false;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.inFlight]);
  }
}
