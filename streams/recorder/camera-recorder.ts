// Records one camera: a supervised ffmpeg copying the RTSP stream into crash-safe segments.
// ffmpeg reports each closed segment on fd 3 (`-segment_list pipe:3`, csv); the recorder then
// finalizes it (probe, hash, move into the dated layout) and hands it to the SegmentSink, one
// at a time in order. When a run ends, whatever that run left in .partial/ (killed
// mid-segment) is recovered before anything else. Online/offline transitions become events.
import { EventEmitter } from 'node:events';
import { mkdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { ChildProcess } from 'node:child_process';
import type { CameraEvent } from '../types.js';
import { FfmpegSupervisor } from '../ffmpeg/supervisor.js';
import type { BackoffPolicy } from '../ffmpeg/backoff.js';
import { redactCredentials } from '../ffmpeg/redact.js';
import { silentLogger, type StreamsLogger } from '../logger.js';
import { finalizeSegment, isEmptyShell } from './finalize-segment.js';
import { partialDir, type SegmentFormat } from './layout.js';
import { recoverPartials } from './reconcile.js';
import { recorderArgs } from './recorder-args.js';
import { parseSegmentListLine } from './segment-list.js';
import type { SegmentSink } from './segment-sink.js';

export interface CameraRecorderOptions {
  camera: string;
  recordingsDir: string;
  ffmpeg: string;
  ffprobe: string;
  format: SegmentFormat;
  segmentSeconds: number;
  stopGraceMs: number;
  stallMs: number;
  /** The stream URL (may carry credentials; never logged as is). Asked before every run. */
  resolveUrl: () => Promise<string>;
  sink: SegmentSink;
  session: (startMs: number) => string | null;
  backoff?: BackoffPolicy;
  healthyAfterMs?: number;
  logger?: StreamsLogger;
}

export interface CameraRecorderEvents {
  event: [CameraEvent];
}

interface Run {
  prefix: string;
  listClosed: Promise<void>;
}

export class CameraRecorder extends EventEmitter<CameraRecorderEvents> {
  readonly supervisor: FfmpegSupervisor;
  /** null until the first run tells. */
  online: boolean | null = null;
  lastSegmentAt: string | null = null;
  lastError: string | null = null;
  streamUrl: string | null = null;
  private audio = true;
  private run: Run | null = null;
  private pendingPrefix: string | null = null;
  private work: Promise<void> = Promise.resolve();
  private runDone: Promise<void> = Promise.resolve();
  private readonly log: StreamsLogger;

  constructor(private readonly opts: CameraRecorderOptions) {
    super();
    this.log = opts.logger ?? silentLogger;
    this.supervisor = new FfmpegSupervisor({
      name: `recorder ${opts.camera}`,
      binary: opts.ffmpeg,
      args: () => this.args(),
      // Names are ours (UTC from Date), but keep ffmpeg's own time formatting in UTC too.
      env: { ...process.env, TZ: 'UTC' },
      extraPipes: 1,
      stopGraceMs: opts.stopGraceMs,
      stallMs: opts.stallMs,
      backoff: opts.backoff,
      healthyAfterMs: opts.healthyAfterMs,
      logger: this.log,
    });
    this.supervisor.on('start', (child) => this.onStart(child));
    this.supervisor.on('exit', (code, signal) => this.onExit(code, signal));
    this.supervisor.on('progress', (p) => {
      if (p.frame > 0 || p.outTimeSeconds > 0) this.setOnline(true);
    });
    this.supervisor.on('stderr-line', (line) => {
      this.lastError = line.slice(0, 300);
      if (this.audio && /could not find tag for codec|codec not currently supported in container/i.test(line)) {
        // e.g. G.711 audio into MP4: record video only rather than fail forever.
        this.audio = false;
        this.log.warn({ camera: opts.camera }, 'audio codec not storable in this container; recording video only');
      }
    });
    this.supervisor.on('stall', (ms) => {
      this.lastError = `no progress for ${Math.round(ms / 1000)} s`;
    });
  }

  get recording(): boolean {
    return this.supervisor.running;
  }

  get restarts(): number {
    return this.supervisor.restarts;
  }

  start(): void {
    this.supervisor.start();
  }

  /** Graceful stop; resolves when ffmpeg has exited and its last segment is indexed. */
  async stop(): Promise<void> {
    await this.supervisor.stop();
    await this.runDone;
    await this.idle();
  }

  /** Resolves when all segments reported so far are indexed. */
  async idle(): Promise<void> {
    for (;;) {
      const w = this.work;
      await w;
      if (w === this.work) return;
    }
  }

  private async args(): Promise<string[]> {
    let url: string;
    try {
      url = await this.opts.resolveUrl();
    } catch (err) {
      this.lastError = redactCredentials(`stream URL unavailable: ${(err as Error).message}`);
      this.setOnline(false);
      throw err;
    }
    this.streamUrl = redactCredentials(url);
    const dir = partialDir(this.opts.recordingsDir, this.opts.camera);
    await mkdir(dir, { recursive: true });
    // The run prefix keeps each run's numbering apart from leftovers of earlier runs.
    const prefix = `${Date.now()}-`;
    this.pendingPrefix = prefix;
    return recorderArgs({
      url,
      outputPattern: join(dir, `${prefix}%05d.${this.opts.format}`),
      segmentSeconds: this.opts.segmentSeconds,
      format: this.opts.format,
      ioTimeoutSeconds: Math.max(5, Math.min(this.opts.stallMs, 30)),
      audio: this.audio,
    });
  }

  private onStart(child: ChildProcess): void {
    const prefix = this.pendingPrefix ?? '';
    const list = child.stdio[3] as Readable | null;
    let listClosed: Promise<void> = Promise.resolve();
    if (list) {
      listClosed = new Promise((resolve) => list.once('close', () => resolve()));
      list.on('error', () => {});
      const rl = createInterface({ input: list, crlfDelay: Infinity });
      rl.on('line', (line) => {
        const entry = parseSegmentListLine(line);
        if (!entry) return;
        // The segment closed just now: its end is "now", its start end - duration.
        const end = new Date();
        const file = join(partialDir(this.opts.recordingsDir, this.opts.camera), entry.file.split('/').pop()!);
        this.supervisor.noteProgress();
        this.enqueue(async () => {
          if (await isEmptyShell(this.opts.ffprobe, file)) {
            this.log.info({ camera: this.opts.camera, file: entry.file }, 'removing segment file without media');
            await unlink(file).catch(() => {});
            return;
          }
          const { draft, probe } = await finalizeSegment({
            recordingsDir: this.opts.recordingsDir,
            camera: this.opts.camera,
            ffprobe: this.opts.ffprobe,
            file,
            end,
            durationHint: entry.endSeconds - entry.startSeconds,
            session: this.opts.session,
            recovered: false,
          });
          this.opts.sink.accept(draft, probe);
          this.lastSegmentAt = draft.end;
        });
      });
    }
    this.run = { prefix, listClosed };
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    const run = this.run;
    this.run = null;
    if (run) {
      // After every line of this run is handled, pick up what it left half-written.
      this.runDone = run.listClosed.then(() =>
        this.enqueue(async () => {
          const recovered = await recoverPartials(
            {
              recordingsDir: this.opts.recordingsDir,
              ffprobe: this.opts.ffprobe,
              sink: this.opts.sink,
              session: this.opts.session,
              logger: this.log,
            },
            this.opts.camera,
            run.prefix,
          );
          if (recovered.length) this.lastSegmentAt = recovered[recovered.length - 1].end;
        }),
      );
    }
    if (this.supervisor.running) return;
    // An exit we did not ask for: the camera (or the path to it) is gone for now.
    if (this.supervisor.wanted) {
      if (this.lastError === null) this.lastError = `ffmpeg exited (code ${code}, signal ${signal})`;
      this.setOnline(false);
    }
  }

  private setOnline(online: boolean): void {
    if (this.online === online) return;
    const before = this.online;
    this.online = online;
    if (online) {
      this.lastError = null;
      if (before === false) {
        this.emit('event', {
          type: 'camera-online',
          camera: this.opts.camera,
          message: `camera ${this.opts.camera} is recording again`,
        });
      }
    } else {
      this.emit('event', {
        type: 'camera-offline',
        camera: this.opts.camera,
        message: `camera ${this.opts.camera} is not reachable: ${this.lastError ?? 'unknown error'}`,
        detail: { restarts: this.supervisor.restarts },
      });
    }
  }

  private enqueue(job: () => Promise<void>): void {
    this.work = this.work.then(job).catch((err: unknown) => {
      this.log.error({ camera: this.opts.camera, err: redactCredentials(String(err)) }, 'segment handling failed');
    });
  }
}
