// A serial port that stays open for as long as the driver runs. USB serial adapters vanish when
// unplugged (the port closes with a "disconnected" error, reopening fails with ENOENT until the
// device is back), so the port is reopened with exponential backoff plus jitter until stop().
//
// Each (re)open uses a fresh SerialPortStream: a stream that saw a disconnect keeps internal
// listeners queued for the old connection, and a new one guarantees no byte of the old connection
// is delivered after the 'close' event.
//
// Events (all optional to listen to; 'error' is only emitted when someone listens, so an unheard
// error never crashes the service):
//   'open'               the port is open and reading
//   'close' (reason)     the port closed while running (unplug, read error); a reopen is scheduled
//   'error' (err)        an open attempt or a write failed; a retry is scheduled
//   'data'  (chunk)      bytes received, in order
//
// Real device paths always use the OS binding; only `sim:<name>` paths default to the in-process
// simulator binding (demo mode), and tests may inject any binding.
import { EventEmitter } from 'node:events';
import { SerialPortStream } from '@serialport/stream';
import { silentLogger, type DriverLogger } from '../logger.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import { defaultBindingFor, type SerialBinding } from './binding.js';

export interface ReopeningPortOptions {
  path: string;
  baudRate: number;
  /** Default: the OS binding, or the simulator binding for `sim:<name>` paths. */
  binding?: SerialBinding;
  logger?: DriverLogger;
  /** Reopen delays; default 250 ms doubling to a 10 s cap, with jitter. */
  backoff?: BackoffOptions;
}

export interface ReopeningPortEvents {
  open: [];
  close: [reason: string];
  error: [err: Error];
  data: [chunk: Buffer];
}

export class ReopeningPort extends EventEmitter<ReopeningPortEvents> {
  readonly path: string;
  readonly baudRate: number;
  private readonly binding: SerialBinding;
  private readonly log: DriverLogger;
  private readonly backoff: Backoff;
  private running = false;
  private stream: SerialPortStream | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  /** Settles when the current open attempt has finished (either way). */
  private opening: Promise<void> | null = null;
  private lastOpenError: string | null = null;

  constructor(opts: ReopeningPortOptions) {
    super();
    this.path = opts.path;
    this.baudRate = opts.baudRate;
    this.binding = opts.binding ?? defaultBindingFor(opts.path);
    this.log = opts.logger ?? silentLogger;
    this.backoff = new Backoff(opts.backoff);
  }

  get isOpen(): boolean {
    return this.stream?.isOpen ?? false;
  }

  /** Starts opening (and keeps reopening) the port; resolves at once, watch 'open'. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.attemptOpen();
  }

  /** Stops reopening and closes the port; leaves no timer or open descriptor behind. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    await this.opening;
    const stream = this.stream;
    this.stream = null;
    if (stream) await closeQuietly(stream);
  }

  /** Writes bytes and resolves once the OS has transmitted them. Rejects when the port is not open. */
  write(data: Buffer): Promise<void> {
    const stream = this.stream;
    if (!stream?.isOpen) return Promise.reject(new Error(`serial port ${this.path} is not open`));
    return new Promise<void>((resolve, reject) => {
      stream.write(data, (err) => {
        if (err) return reject(err);
        stream.drain((drainErr) => (drainErr ? reject(drainErr) : resolve()));
      });
    });
  }

  private attemptOpen(): void {
    this.retryTimer = null;
    if (!this.running) return;
    const stream = new SerialPortStream({ binding: this.binding, path: this.path, baudRate: this.baudRate, autoOpen: false });
    stream.on('data', (chunk: Buffer) => {
      if (stream === this.stream) this.emit('data', chunk);
    });
    stream.on('close', (err: Error | null) => this.onStreamClosed(stream, err));
    stream.on('error', (err: Error) => this.onStreamError(stream, err));
    this.opening = new Promise<void>((settle) => {
      stream.open((err) => {
        this.opening = null;
        if (err) {
          stream.destroy();
          this.onOpenFailed(err);
          return settle();
        }
        if (!this.running) {
          // stop() came while opening: it waits for this close, so it leaves no descriptor open.
          void closeQuietly(stream).then(settle);
          return;
        }
        this.stream = stream;
        this.backoff.reset();
        this.lastOpenError = null;
        this.log.info({ path: this.path, baudRate: this.baudRate }, 'serial port open');
        this.emit('open');
        settle();
      });
    });
  }

  private onOpenFailed(err: Error): void {
    if (!this.running) return;
    // A missing device is the normal state while unplugged: say so once, then only at debug.
    const repeated = err.message === this.lastOpenError;
    this.lastOpenError = err.message;
    (repeated ? this.log.debug : this.log.warn).call(this.log, { path: this.path, err: err.message }, 'serial port open failed; will retry');
    this.emitError(err);
    this.scheduleRetry();
  }

  private onStreamClosed(stream: SerialPortStream, err: Error | null): void {
    if (stream !== this.stream) return;
    this.stream = null;
    // A destroyed stream (write error) may still hold the device; release it before reopening.
    void closeQuietly(stream);
    if (!this.running) return;
    const reason = err?.message ?? 'closed';
    this.log.warn({ path: this.path, reason }, 'serial port closed; reopening');
    this.emit('close', reason);
    this.scheduleRetry();
  }

  private onStreamError(stream: SerialPortStream, err: Error): void {
    if (stream !== this.stream) return;
    this.log.warn({ path: this.path, err: err.message }, 'serial port error');
    this.emitError(err);
    // A Duplex that errored is destroyed and reads nothing more: treat it as a disconnect.
    if (stream.destroyed) this.onStreamClosed(stream, err);
  }

  private emitError(err: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  private scheduleRetry(): void {
    if (!this.running || this.retryTimer) return;
    const delay = this.backoff.next();
    this.log.debug({ path: this.path, delayMs: delay }, 'serial port reopen scheduled');
    this.retryTimer = setTimeout(() => this.attemptOpen(), delay);
  }
}

/** Closes the stream's port if it is still open; never rejects. */
function closeQuietly(stream: SerialPortStream): Promise<void> {
  return new Promise<void>((resolve) => {
    if (!stream.port?.isOpen) {
      stream.destroy();
      return resolve();
    }
    stream.close(() => {
      stream.destroy();
      resolve();
    });
  });
}
