// The `line` driver: a serial clock or card reader that prints one punch per frame (text lines,
// RDM6300 frames, virtual-COM card ids). Each frame is decoded and handed to the synchronous sink,
// which makes it durable before returning, before the next frame is looked at. Bad frames and
// store failures are logged, counted and emitted as notices; they never stop the driver and never
// turn into punches. The port is reopened with backoff when the device disappears.
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { LineClockConfig } from '../../config/clocks.js';
import { silentLogger, type DriverLogger } from '../logger.js';
import type { BackoffOptions } from '../serial/backoff.js';
import type { SerialBinding } from '../serial/binding.js';
import { ReopeningPort } from '../serial/reopening-port.js';
import type { ClockDriver, ClockEvents, ClockStatus, DevicePunch, PunchSink, StoredPunchRef } from '../types.js';
import type { FrameOutput } from './framer.js';
import { createLinePreset } from './presets/create-preset.js';
import type { LinePreset } from './presets/types.js';
import { RepeatSuppressor } from './repeat-suppressor.js';

export interface LineDriverOptions {
  logger?: DriverLogger;
  /** Serial binding; default the OS one (or the simulator's for `sim:<name>` ports). */
  binding?: SerialBinding;
  /** Clock for lastFrameAt and repeat suppression; default wall time / a monotonic clock. */
  now?: () => Date;
  /** Reopen delays (default 250 ms doubling to 10 s, with jitter). */
  backoff?: BackoffOptions;
}

export interface LineClockStatus extends ClockStatus {
  preset: LinePreset['name'];
  /** Frames dropped as repeats of a card still held on the reader. */
  repeatsSuppressed: number;
  /** Good frames the sink could not store (disk errors); each was logged and emitted. */
  storeFailures: number;
}

export class LineClockDriver extends EventEmitter<ClockEvents> implements ClockDriver {
  readonly id: string;
  readonly driver = 'line';
  private readonly preset: LinePreset;
  private readonly port: ReopeningPort;
  private readonly suppressor: RepeatSuppressor;
  private readonly log: DriverLogger;
  private readonly wallNow: () => Date;
  private running = false;
  /** null until the first open attempt has an outcome, so an absent device at boot is reported. */
  private connected: boolean | null = null;
  private lastFrameAt: string | null = null;
  private lastError: string | null = null;
  private framesOk = 0;
  private framesBad = 0;
  private punches = 0;
  private repeatsSuppressed = 0;
  private storeFailures = 0;

  /** Throws LineConfigError when the pattern or timezone cannot work. */
  constructor(
    private readonly cfg: LineClockConfig,
    private readonly sink: PunchSink,
    opts: LineDriverOptions = {},
  ) {
    super();
    this.id = cfg.id;
    this.log = opts.logger ?? silentLogger;
    this.preset = createLinePreset(cfg);
    if (this.preset.name !== 'default' && (cfg.pattern !== undefined || cfg.timezone !== undefined)) {
      this.log.warn({ preset: this.preset.name }, 'pattern and timezone only apply to the default preset; ignored');
    }
    this.wallNow = opts.now ?? (() => new Date());
    // Repeat windows need elapsed time, not wall time: the box may step its clock at NTP sync.
    const elapsedMs = opts.now ? () => opts.now!().getTime() : () => performance.now();
    this.suppressor = new RepeatSuppressor(this.preset.repeatSuppressMs, elapsedMs);
    this.port = new ReopeningPort({
      path: cfg.port,
      baudRate: cfg.baudRate,
      binding: opts.binding,
      logger: this.log,
      backoff: opts.backoff,
    });
    this.port.on('open', () => this.setConnected(true));
    this.port.on('close', (reason) => this.onPortClosed(reason));
    this.port.on('error', (err) => this.onPortError(err));
    this.port.on('data', (chunk) => this.onData(chunk));
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.log.info({ port: this.cfg.port, baudRate: this.cfg.baudRate, preset: this.preset.name }, 'line clock starting');
    this.port.start();
  }

  async stop(): Promise<void> {
    // Cleared first: once stop() is called nothing more reaches the sink.
    this.running = false;
    await this.port.stop();
    this.preset.framer.reset();
    // A deliberate stop is not an outage: no 'connection' event, just the state.
    this.connected = false;
    this.log.info({}, 'line clock stopped');
  }

  status(): LineClockStatus {
    return {
      id: this.id,
      driver: this.driver,
      connected: this.connected === true,
      lastFrameAt: this.lastFrameAt,
      framesOk: this.framesOk,
      framesBad: this.framesBad,
      punches: this.punches,
      lastError: this.lastError,
      preset: this.preset.name,
      repeatsSuppressed: this.repeatsSuppressed,
      storeFailures: this.storeFailures,
    };
  }

  private onData(chunk: Buffer): void {
    if (!this.running) return;
    for (const frame of this.preset.framer.push(chunk)) {
      if (!this.running) return;
      try {
        this.handleFrame(frame);
      } catch (err) {
        // Only a bug lands here; keep reading the frames after it.
        this.framesBad++;
        this.lastError = (err as Error).message;
        this.log.error({ err: (err as Error).message, raw: frame.raw }, 'line frame handling failed');
      }
    }
  }

  private handleFrame(frame: FrameOutput): void {
    this.lastFrameAt = this.wallNow().toISOString();
    if (frame.kind === 'bad') return this.badFrame(frame.raw, frame.reason);
    if (frame.text.trim() === '') return; // blank keep-alive lines are not frames
    const decoded = this.preset.decode(frame.text);
    if (!decoded.ok) return this.badFrame(frame.raw, decoded.reason);
    this.framesOk++;
    const { user, verify, deviceTime, extra } = decoded.value;
    if (this.suppressor.isRepeat(user)) {
      this.repeatsSuppressed++;
      this.log.debug({ user }, 'repeat of a held card suppressed');
      return;
    }
    const punch: DevicePunch = { clock: this.id, user, verify, raw: frame.raw };
    if (deviceTime !== undefined) punch.deviceTime = deviceTime;
    if (extra !== undefined) punch.extra = extra;
    let stored: StoredPunchRef;
    try {
      stored = this.sink(punch);
    } catch (err) {
      // Not stored, so not a punch: the device cannot be asked to resend, so make it loud.
      this.storeFailures++;
      this.lastError = `store failed: ${(err as Error).message}`;
      this.log.error({ err: (err as Error).message, raw: frame.raw, user }, 'punch could not be stored');
      this.emit('notice', 'store-failed', { raw: frame.raw, user, error: (err as Error).message });
      return;
    }
    this.suppressor.stored(user);
    if (!stored.duplicate) this.punches++;
  }

  private badFrame(raw: string, reason: string): void {
    this.framesBad++;
    this.log.warn({ raw, reason }, 'bad frame from line clock');
    this.emit('notice', 'bad-frame', { raw, reason });
  }

  private onPortClosed(reason: string): void {
    // Bytes of a half-received frame must not merge with what arrives after the reconnect.
    const partial = this.preset.framer.reset();
    if (partial?.kind === 'bad' && this.running) this.handleFrame(partial);
    this.lastError = `port closed: ${reason}`;
    this.setConnected(false, reason);
  }

  private onPortError(err: Error): void {
    this.lastError = err.message;
    if (this.connected === null) this.setConnected(false, err.message);
  }

  private setConnected(connected: boolean, reason?: string): void {
    if (this.connected === connected) return;
    this.connected = connected;
    if (!this.running) return;
    if (connected) this.emit('connection', true);
    else this.emit('connection', false, reason);
  }
}

/** Factory for gateway/: one driver per `line` clock config. Throws LineConfigError on bad config. */
export function createLineDriver(cfg: LineClockConfig, sink: PunchSink, opts?: LineDriverOptions): LineClockDriver {
  return new LineClockDriver(cfg, sink, opts);
}
