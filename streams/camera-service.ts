// The Cameras service gateway/ composes: resolves ffmpeg/ffprobe, reconciles the recordings
// directory with the segment index at start-up, runs one CameraRecorder per camera that records,
// keeps the disk within budget (Retention) and answers snapshot requests. It only emits
// ('segment', 'event', 'snapshot'); gateway/ turns those into MQTT messages.
//
// ONVIF and periodic snapshots live in streams/onvif and streams/snapshots; they plug in here
// only through the constructor options `resolveStream`, `snapshotter` and `snapshotScheduler`.
import { EventEmitter } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import type { z } from 'zod';
import type { CameraConfig, ffmpegSchema, recordingsSchema, snapshotsSchema } from '../config/cameras.js';
import type { CameraEvent, CameraService, CameraStatus, SegmentInfo, StreamsEvents } from './types.js';
import type { BackoffPolicy } from './ffmpeg/backoff.js';
import { redactCredentials } from './ffmpeg/redact.js';
import { resolveFfmpeg, resolveFfprobe, type ResolvedBinary } from './ffmpeg/resolve-binary.js';
import { SegmentIndex } from './index/segment-index.js';
import { silentLogger, type StreamsLogger } from './logger.js';
import { CameraRecorder } from './recorder/camera-recorder.js';
import { reconcile } from './recorder/reconcile.js';
import { stopOrphanRecorders } from './recorder/orphans.js';
import { SegmentSink } from './recorder/segment-sink.js';
import { SessionTimeline } from './recorder/session-timeline.js';
import { Retention } from './retention/retention.js';
import { grabFrame } from './snapshots/ffmpeg-frame.js';
import { validJpeg } from './snapshots/jpeg.js';

export type FfmpegConfig = z.infer<typeof ffmpegSchema>;
export type RecordingsConfig = z.infer<typeof recordingsSchema>;
export type SnapshotsConfig = z.infer<typeof snapshotsSchema>;

export interface ResolvedStream {
  /** May carry credentials: never logged or reported as is. */
  streamUrl: string;
  snapshotUrl?: string;
}

/** What Cameras needs of a snapshotter (streams/snapshots' OnvifOrFfmpegSnapshotter fits). */
export interface SnapshotterLike {
  grab(camera: string): Promise<Buffer>;
  setSource?(camera: string, source: { streamUrl?: string; snapshotUrl?: string }): void;
}

/** What Cameras needs of a periodic snapshot publisher (streams/snapshots' SnapshotScheduler fits). */
export interface SnapshotSchedulerLike {
  start(): void;
  stop(): Promise<void> | void;
  on(event: 'snapshot', listener: (camera: string, jpeg: Buffer) => void): unknown;
}

export interface CamerasOptions {
  cameras: CameraConfig[];
  ffmpeg: FfmpegConfig;
  recordings: RecordingsConfig;
  snapshots: SnapshotsConfig;
  /** recordings.dir defaults to <dataDir>/recordings. */
  dataDir: string;
  /** The gateway's SQLite handle; the segment index creates its own tables in it. */
  db: BetterSqlite3.Database;
  logger?: StreamsLogger;
  /** Default: the camera's rtspUrl. gateway/ plugs in the ONVIF resolver. */
  resolveStream?: (cam: CameraConfig) => Promise<ResolvedStream>;
  snapshotter?: SnapshotterLike;
  snapshotScheduler?: SnapshotSchedulerLike;
  /** Already resolved binaries (else resolved in start()). */
  binaries?: { ffmpeg: ResolvedBinary; ffprobe: ResolvedBinary };
  /** Free-space source for retention (default: statfs of the recordings directory). */
  freeBytes?: () => Promise<number>;
  retentionIntervalMs?: number;
  backoff?: BackoffPolicy;
}

function defaultResolve(cam: CameraConfig): Promise<ResolvedStream> {
  if (!cam.rtspUrl) {
    return Promise.reject(new Error(`camera ${cam.id} has no rtspUrl and no ONVIF resolver is configured`));
  }
  return Promise.resolve({ streamUrl: cam.rtspUrl });
}

export class Cameras extends EventEmitter<StreamsEvents> implements CameraService {
  readonly index: SegmentIndex;
  readonly recordingsDir: string;
  private readonly sink: SegmentSink;
  private readonly sessions = new SessionTimeline();
  private readonly retention: Retention;
  private readonly recorders = new Map<string, CameraRecorder>();
  /** Cameras that should be recording (config 'always' or record(id, true)). */
  private readonly wanted = new Set<string>();
  private readonly configs = new Map<string, CameraConfig>();
  private readonly lastUrls = new Map<string, string>();
  private bins: { ffmpeg: ResolvedBinary; ffprobe: ResolvedBinary } | null;
  private readonly log: StreamsLogger;
  private started = false;

  constructor(private readonly opts: CamerasOptions) {
    super();
    this.log = opts.logger ?? silentLogger;
    this.bins = opts.binaries ?? null;
    this.recordingsDir = resolvePath(opts.recordings.dir ?? join(opts.dataDir, 'recordings'));
    this.index = new SegmentIndex(opts.db);
    this.sink = new SegmentSink(this.index, opts.recordings.gapSeconds);
    this.sink.on('segment', (s) => this.onSegment(s));
    this.sink.on('event', (e) => this.emitEvent(e));
    this.retention = new Retention({
      index: this.index,
      recordingsDir: this.recordingsDir,
      keepDays: opts.recordings.keepDays,
      minFreeBytes: opts.recordings.minFreeGB * 1e9,
      reserveBytes: opts.recordings.reserveForDatabaseMB * 1024 * 1024,
      freeBytes: opts.freeBytes,
      intervalMs: opts.retentionIntervalMs,
      logger: this.log,
    });
    this.retention.on('event', (e) => this.emitEvent(e));
    this.retention.on('recording-allowed', (allowed) => void this.applyRecordingAllowed(allowed));
    for (const cam of opts.cameras) {
      this.configs.set(cam.id, cam);
      if (cam.record === 'always') this.wanted.add(cam.id);
    }
    opts.snapshotScheduler?.on('snapshot', (camera, jpeg) => this.emit('snapshot', camera, jpeg));
  }

  /** The ffmpeg/ffprobe in use (after start()): path, where it came from, version. */
  get binaries(): { ffmpeg: ResolvedBinary; ffprobe: ResolvedBinary } | null {
    return this.bins;
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    if (!this.bins) {
      const [ffmpeg, ffprobe] = await Promise.all([
        resolveFfmpeg({ configured: this.opts.ffmpeg.path }),
        resolveFfprobe({ configured: this.opts.ffmpeg.ffprobePath }),
      ]);
      this.bins = { ffmpeg, ffprobe };
      this.log.info(
        { ffmpeg: `${ffmpeg.path} (${ffmpeg.source}, ${ffmpeg.version})`, ffprobe: `${ffprobe.path} (${ffprobe.source}, ${ffprobe.version})` },
        'ffmpeg resolved',
      );
    }
    await mkdir(this.recordingsDir, { recursive: true });
    const orphans = await stopOrphanRecorders(this.recordingsDir, this.opts.ffmpeg.stopGraceSeconds * 1000);
    if (orphans.length) this.log.warn({ pids: orphans.map((o) => o.pid) }, 'stopped ffmpeg recorders left by a previous run');
    await reconcile({
      recordingsDir: this.recordingsDir,
      ffprobe: this.bins.ffprobe.path,
      sink: this.sink,
      session: (t) => this.sessions.at(t),
      onEvent: (e) => this.emitEvent(e),
      logger: this.log,
    });
    await this.retention.run();
    this.retention.start();
    for (const cam of this.configs.values()) this.recorderFor(cam);
    if (this.retention.recordingAllowed) for (const id of this.wanted) this.recorders.get(id)?.start();
    this.opts.snapshotScheduler?.start();
  }

  async stop(): Promise<void> {
    this.started = false;
    await Promise.all([
      Promise.resolve(this.opts.snapshotScheduler?.stop()),
      this.retention.stop(),
      ...[...this.recorders.values()].map((r) => r.stop()),
    ]);
  }

  /** Starts or stops recording one camera (for record: 'schedule' cameras). */
  async record(camera: string, on: boolean): Promise<void> {
    const cam = this.configs.get(camera);
    if (!cam) throw new Error(`unknown camera ${camera}`);
    if (on) this.wanted.add(camera);
    else this.wanted.delete(camera);
    if (!this.started) return;
    const rec = this.recorderFor(cam);
    if (on && this.retention.recordingAllowed) rec.start();
    if (!on) await rec.stop();
  }

  status(): CameraStatus[] {
    return [...this.configs.values()].map((cam) => {
      const rec = this.recorders.get(cam.id);
      return {
        id: cam.id,
        name: cam.name ?? null,
        online: rec?.online === true,
        recording: rec?.recording ?? false,
        streamUrl: rec?.streamUrl ?? (cam.rtspUrl ? redactCredentials(cam.rtspUrl) : null),
        lastSegmentAt: rec?.lastSegmentAt ?? this.index.latest(cam.id)?.end ?? null,
        restarts: rec?.restarts ?? 0,
        lastError: rec?.lastError ?? null,
      };
    });
  }

  setSession(session: string | null): void {
    this.sessions.set(session);
  }

  async snapshot(camera: string): Promise<Buffer> {
    const cam = this.configs.get(camera);
    if (!cam) throw new Error(`unknown camera ${camera}`);
    if (this.opts.snapshotter) return this.opts.snapshotter.grab(camera);
    const url = this.lastUrls.get(camera) ?? (await this.resolve(cam)).streamUrl;
    const ffmpeg = this.bins?.ffmpeg.path ?? (await resolveFfmpeg({ configured: this.opts.ffmpeg.path })).path;
    const jpeg = validJpeg(await grabFrame(url, { ffmpegPath: ffmpeg }));
    if (jpeg.length > this.opts.snapshots.maxBytes) {
      throw new Error(`snapshot of ${camera} is ${jpeg.length} bytes, over snapshots.maxBytes (${this.opts.snapshots.maxBytes})`);
    }
    return jpeg;
  }

  /** Retention pass now (tests, or after an operator freed space). */
  runRetention(): ReturnType<Retention['run']> {
    return this.retention.run();
  }

  private async resolve(cam: CameraConfig): Promise<ResolvedStream> {
    const r = await (this.opts.resolveStream ?? defaultResolve)(cam);
    this.lastUrls.set(cam.id, r.streamUrl);
    this.opts.snapshotter?.setSource?.(cam.id, { streamUrl: r.streamUrl, snapshotUrl: r.snapshotUrl });
    return r;
  }

  private recorderFor(cam: CameraConfig): CameraRecorder {
    let rec = this.recorders.get(cam.id);
    if (rec) return rec;
    const { ffmpeg, recordings } = this.opts;
    rec = new CameraRecorder({
      camera: cam.id,
      recordingsDir: this.recordingsDir,
      ffmpeg: this.bins!.ffmpeg.path,
      ffprobe: this.bins!.ffprobe.path,
      format: recordings.format,
      segmentSeconds: recordings.segmentSeconds,
      stopGraceMs: ffmpeg.stopGraceSeconds * 1000,
      stallMs: ffmpeg.stallSeconds * 1000,
      resolveUrl: async () => (await this.resolve(cam)).streamUrl,
      sink: this.sink,
      session: (t) => this.sessions.at(t),
      backoff: this.opts.backoff,
      logger: this.log,
    });
    rec.on('event', (e) => this.emitEvent(e));
    this.recorders.set(cam.id, rec);
    return rec;
  }

  private async applyRecordingAllowed(allowed: boolean): Promise<void> {
    if (!this.started) return;
    for (const id of this.wanted) {
      const rec = this.recorders.get(id);
      if (!rec) continue;
      if (allowed) rec.start();
      else await rec.stop();
    }
  }

  private onSegment(s: SegmentInfo): void {
    this.emit('segment', s);
    // Each new segment takes space: check the budget now rather than at the next tick.
    if (this.started) void this.retention.run().catch(() => {});
  }

  private emitEvent(e: CameraEvent): void {
    this.log.info({ event: e.type, camera: e.camera }, redactCredentials(e.message));
    this.emit('event', e);
  }
}
