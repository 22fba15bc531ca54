// Driver for USB HID keyboard-emulating card/badge readers ("keyboard wedges").
// Reports come from a HidSource (node-hid in production, recorded reports in tests), are decoded
// as boot-keyboard reports, and each terminated code becomes one punch. The device is reopened
// with backoff after it disappears (node-hid emits 'error' on unplug).
import { EventEmitter } from 'node:events';
import type { HidWedgeClockConfig } from '../../config/clocks.js';
import { silentLogger, type DriverLogger } from '../logger.js';
import { Backoff, type BackoffOptions } from '../serial/backoff.js';
import type { ClockDriver, ClockEvents, ClockStatus, PunchSink } from '../types.js';
import { BootKeyboardDecoder, CodeAssembler, type AssemblerOutput, type BootKeyboardOptions } from './boot-keyboard.js';
import { evdevNodesForHidraw, grabEvdev, type EvdevGrab } from './evdev-grab.js';
import { openNodeHid, type HidSource } from './hid-device.js';

export interface HidWedgeDriverOptions {
  logger?: DriverLogger;
  /** Opens the device; default node-hid by vendorId/productId (+ serialNumber/path). */
  open?: (cfg: HidWedgeClockConfig) => HidSource | Promise<HidSource>;
  /** Takes the exclusive grab for a hidraw path; default: EVIOCGRAB via evdev-grab.ts. */
  grab?: (hidrawPath: string) => Promise<EvdevGrab>;
  backoff?: BackoffOptions;
  reportId?: BootKeyboardOptions['reportId'];
  /** Clock for inter-key timing (ms); injectable for tests. */
  now?: () => number;
}

/** Reports kept for the punch's audit field: enough for a long code, bounded for garbage. */
const MAX_AUDIT_REPORTS = 160;

export class HidWedgeDriver extends EventEmitter<ClockEvents> implements ClockDriver {
  readonly id: string;
  readonly driver = 'hid-wedge';
  private readonly log: DriverLogger;
  private readonly backoff: Backoff;
  private readonly decoder: BootKeyboardDecoder;
  private readonly assembler: CodeAssembler;
  private readonly now: () => number;
  private source: HidSource | null = null;
  private grab: EvdevGrab | null = null;
  private running = false;
  private connected = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private expireTimer: NodeJS.Timeout | null = null;
  private opening: Promise<void> | null = null;
  /** Reports since the last completed/dropped code, hex (the punch's raw field). */
  private audit: string[] = [];
  private readonly stats = { lastFrameAt: null as string | null, framesOk: 0, framesBad: 0, punches: 0, lastError: null as string | null };

  constructor(
    private readonly cfg: HidWedgeClockConfig,
    private readonly sink: PunchSink,
    private readonly opts: HidWedgeDriverOptions = {},
  ) {
    super();
    this.id = cfg.id;
    this.log = opts.logger ?? silentLogger;
    this.backoff = new Backoff(opts.backoff);
    this.decoder = new BootKeyboardDecoder({ reportId: opts.reportId });
    this.assembler = new CodeAssembler({ interKeyTimeoutMs: cfg.interKeyTimeoutMs, repeatSuppressMs: cfg.repeatSuppressMs });
    this.now = opts.now ?? (() => performance.now());
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.attemptOpen();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.expireTimer) clearTimeout(this.expireTimer);
    this.retryTimer = this.expireTimer = null;
    await this.opening;
    await this.closeDevice('driver stopped');
  }

  status(): ClockStatus {
    return { id: this.id, driver: this.driver, connected: this.connected, ...this.stats };
  }

  // ---- device lifecycle -------------------------------------------------------------------

  private attemptOpen(): void {
    this.retryTimer = null;
    if (!this.running) return;
    this.opening = this.open().finally(() => (this.opening = null));
  }

  private async open(): Promise<void> {
    let source: HidSource;
    try {
      source = await (this.opts.open ?? ((c) => openNodeHid(c)))(this.cfg);
    } catch (err) {
      // An absent reader is the normal state while unplugged: warn once per distinct reason.
      const text = err instanceof Error ? err.message : String(err);
      if (text === this.stats.lastError) this.log.debug({ err: text }, 'HID reader open failed; will retry');
      else this.noteError(err, 'HID reader open failed; will retry');
      return this.scheduleRetry();
    }
    if (!this.running) {
      await source.close();
      return;
    }
    this.source = source;
    this.decoder.reset();
    source.on('error', (err) => this.onDeviceError(source, err));
    // Reports from a handle we already gave up on (after its error) are not mixed into the new one.
    source.on('data', (report) => {
      if (source === this.source) this.onReport(report);
    });
    this.backoff.reset();
    this.connected = true;
    this.log.info({ path: source.path }, 'HID reader open');
    this.emit('connection', true);
    if (this.cfg.grab) await this.takeGrab(source);
  }

  private async takeGrab(source: HidSource): Promise<void> {
    try {
      if (!source.path) throw new Error('the device path is unknown, cannot find its evdev nodes');
      const grab = await (this.opts.grab ?? ((p) => grabEvdev(evdevNodesForHidraw(p))))(source.path);
      if (this.source !== source) return void (await grab.release());
      this.grab = grab;
      this.log.info({ nodes: grab.nodes }, 'HID reader grabbed: the console no longer receives its keys');
    } catch (err) {
      // Reading still works through hidraw: report it, keep running.
      this.noteError(err, 'exclusive grab failed; codes may also be typed into the console');
      this.emit('notice', 'grab-failed', { error: (err as Error).message });
    }
  }

  private onDeviceError(source: HidSource, err: Error): void {
    if (source !== this.source) return;
    this.noteError(err, 'HID reader lost; reopening');
    void this.closeDevice(err.message).then(() => this.scheduleRetry());
  }

  private async closeDevice(reason: string): Promise<void> {
    const source = this.source;
    const grab = this.grab;
    this.source = null;
    this.grab = null;
    if (this.connected) {
      this.connected = false;
      this.emit('connection', false, reason);
    }
    // An unfinished code cannot be completed by a different connection.
    this.flushPartial('disconnect');
    await grab?.release().catch(() => undefined);
    try {
      await source?.close();
    } catch {
      /* already gone */
    }
  }

  private scheduleRetry(): void {
    if (!this.running || this.retryTimer) return;
    this.retryTimer = setTimeout(() => this.attemptOpen(), this.backoff.next());
  }

  // ---- reports → codes → punches ----------------------------------------------------------

  private onReport(report: Buffer): void {
    // Never throw from here: node-hid would turn it into an 'error' (a false unplug).
    try {
      this.stats.lastFrameAt = new Date().toISOString();
      const res = this.decoder.decode(report);
      if (!res.ok) {
        this.stats.framesBad++;
        this.emit('notice', 'bad-frame', { reason: res.reason, hex: report.subarray(0, 32).toString('hex') });
        return;
      }
      this.stats.framesOk++;
      if (this.audit.length < MAX_AUDIT_REPORTS) this.audit.push(report.toString('hex'));
      const at = this.now();
      for (const stroke of res.strokes) for (const out of this.assembler.push(stroke, at)) this.handle(out);
      this.armExpiry();
    } catch (err) {
      this.noteError(err, 'HID report handling failed');
    }
  }

  private handle(out: AssemblerOutput): void {
    if (out.kind === 'dropped') {
      this.emit('notice', 'incomplete-code', { partial: out.partial, reason: out.reason });
      this.audit = [];
      return;
    }
    if (out.kind === 'suppressed') {
      this.emit('notice', 'repeat-suppressed', { user: out.code });
      this.audit = [];
      return;
    }
    const raw = this.audit.join(' ');
    this.audit = [];
    try {
      this.sink({ clock: this.id, user: out.code, verify: this.cfg.verify, raw, extra: { terminator: out.terminator } });
      this.stats.punches++;
    } catch (err) {
      // A wedge cannot be asked to resend: the failure is loud so the installer sees it.
      this.noteError(err, 'punch could not be stored');
      this.emit('notice', 'store-failed', { user: out.code, error: (err as Error).message });
    }
  }

  /** Drops an unterminated code once the inter-key timeout passes with no further key. */
  private armExpiry(): void {
    if (this.expireTimer) clearTimeout(this.expireTimer);
    this.expireTimer = null;
    if (!this.assembler.pending || !this.running) return;
    this.expireTimer = setTimeout(() => {
      this.expireTimer = null;
      for (const out of this.assembler.expire(this.now())) this.handle(out);
      this.armExpiry();
    }, this.cfg.interKeyTimeoutMs + 1);
  }

  private flushPartial(reason: string): void {
    if (this.assembler.pending) this.emit('notice', 'incomplete-code', { partial: this.assembler.pending, reason });
    this.assembler.expire(Number.POSITIVE_INFINITY);
    this.audit = [];
  }

  private noteError(err: unknown, msg: string): void {
    const text = err instanceof Error ? err.message : String(err);
    this.stats.lastError = text;
    this.log.warn({ err: text }, msg);
  }
}
