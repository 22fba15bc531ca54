// Wires streams/ to the rest of the gateway: ONVIF resolution and snapshots plugged into the
// Cameras service, finished segments into the sync outbox ('recordings' stream, acked by the
// center like attendance), snapshots to tpgw/G/snapshot/<camera>, camera alarms to events, and
// the `snapshot` request.
import type Database from 'better-sqlite3';
import type { Config } from '../config/schema.js';
import { Cameras } from '../streams/camera-service.js';
import { resolveFfmpeg, resolveFfprobe, type ResolvedBinary } from '../streams/ffmpeg/resolve-binary.js';
import { resolveStream } from '../streams/onvif/onvif-camera.js';
import { OnvifOrFfmpegSnapshotter } from '../streams/snapshots/snapshotter.js';
import { SnapshotScheduler } from '../streams/snapshots/snapshot-scheduler.js';
import type { CameraStatus, SegmentInfo } from '../streams/types.js';
import type { Outbox } from '../sync/outbox/outbox.js';
import type { Topics } from '../sync/mqtt/topics.js';
import type { RequestRouter } from '../sync/requests/request-router.js';
import type { EventPublisher } from './event-publisher.js';
import type { Logger } from './logger.js';

export interface CameraWiringDeps {
  config: Config;
  db: Database.Database;
  outbox: Outbox;
  gatewayId: string;
  notifyUplink: () => void;
  publish: (topic: string, payload: string | Buffer, opts: { qos: 0 | 1 | 2; retain: boolean }) => Promise<void>;
  isConnected: () => boolean;
  topics: Topics;
  events: EventPublisher;
  router: RequestRouter;
  logger: Logger;
}

/** The record the center receives for one segment on tpgw/G/recordings. */
export function segmentWireRecord(gatewayId: string, s: SegmentInfo): Record<string, unknown> {
  return {
    id: `${gatewayId}:rec:${s.id}`,
    camera: s.camera,
    path: s.path,
    start: s.start,
    end: s.end,
    durationSeconds: s.durationSeconds,
    bytes: s.bytes,
    sha256: s.sha256,
    status: s.status,
    session: s.session,
    recovered: s.recovered,
  };
}

export class CameraWiring {
  private cameras?: Cameras;
  private binaries?: { ffmpeg: ResolvedBinary; ffprobe: ResolvedBinary };

  constructor(private readonly d: CameraWiringDeps) {}

  async start(): Promise<void> {
    const { config: cfg, logger: log } = this.d;
    const [ffmpeg, ffprobe] = await Promise.all([
      resolveFfmpeg({ configured: cfg.ffmpeg.path }),
      resolveFfprobe({ configured: cfg.ffmpeg.ffprobePath }),
    ]);
    this.binaries = { ffmpeg, ffprobe };
    log.info({ ffmpeg: `${ffmpeg.path} (${ffmpeg.source}) ${ffmpeg.version}`, ffprobe: `${ffprobe.path} (${ffprobe.source})` }, 'ffmpeg resolved');

    const snapshotter = new OnvifOrFfmpegSnapshotter({ cameras: cfg.cameras, maxBytes: cfg.snapshots.maxBytes, ffmpegPath: ffmpeg.path });
    const scheduler = new SnapshotScheduler({ snapshotter, cameras: cfg.cameras.map((c) => c.id), intervalSeconds: cfg.snapshots.intervalSeconds });
    scheduler.on('failure', (camera, err) => log.warn({ camera, err: err.message }, 'snapshot failed'));

    const cameras = new Cameras({
      cameras: cfg.cameras,
      ffmpeg: cfg.ffmpeg,
      recordings: cfg.recordings,
      snapshots: cfg.snapshots,
      dataDir: cfg.gateway.dataDir,
      db: this.d.db,
      logger: log,
      resolveStream: (cam) => resolveStream(cam),
      snapshotter,
      snapshotScheduler: scheduler,
      binaries: this.binaries,
    });
    this.cameras = cameras;

    cameras.on('segment', (s) => this.queueSegments([s]));
    cameras.on('event', (e) => this.d.events.emit({ type: e.type, camera: e.camera, message: e.message, detail: e.detail }));
    cameras.on('snapshot', (camera, jpeg) => {
      if (!this.d.isConnected()) return; // a snapshot describes the present: never queued
      this.d.publish(this.d.topics.snapshot(camera), jpeg, { qos: 0, retain: true }).catch((err: Error) =>
        log.warn({ camera, err: err.message }, 'snapshot not published'),
      );
    });
    this.d.router.register('snapshot', async (args) => {
      const camera = args.camera;
      if (typeof camera !== 'string' || !cfg.cameras.some((c) => c.id === camera)) {
        throw new Error(`camera must be one of: ${cfg.cameras.map((c) => c.id).join(', ')}`);
      }
      const jpeg = await cameras.snapshot(camera);
      await this.d.publish(this.d.topics.snapshot(camera), jpeg, { qos: 0, retain: true });
      return { camera, bytes: jpeg.length, topic: this.d.topics.snapshot(camera), time: new Date().toISOString() };
    });

    await cameras.start();
    // Segments indexed before a crash but never queued (the crash hit between the two) go now.
    this.queueSegments(cameras.index.unqueued());
  }

  /** Index flag and outbox row in one transaction: a segment is queued exactly once. */
  private queueSegments(segments: SegmentInfo[]): void {
    if (!segments.length || !this.cameras) return;
    const index = this.cameras.index;
    this.d.db.transaction(() => {
      for (const s of segments) {
        this.d.outbox.enqueue('recordings', { recordId: `${this.d.gatewayId}:rec:${s.id}`, orderKey: s.camera, payload: segmentWireRecord(this.d.gatewayId, s) });
      }
      index.markQueued(segments.map((s) => s.id));
    })();
    this.d.notifyUplink();
  }

  async stop(): Promise<void> {
    await this.cameras?.stop();
  }

  status(): CameraStatus[] {
    return this.cameras?.status() ?? [];
  }

  ffmpegInfo(): Record<string, unknown> | null {
    if (!this.binaries) return null;
    const { ffmpeg, ffprobe } = this.binaries;
    return { ffmpeg: { path: ffmpeg.path, source: ffmpeg.source, version: ffmpeg.version }, ffprobe: { path: ffprobe.path, source: ffprobe.source, version: ffprobe.version } };
  }
}
