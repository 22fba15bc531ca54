// Driver for a UART fingerprint module (Grow R30x/R503, AS608, ZFM-20).
//
// The host drives everything: the identify loop polls GenImg; when a finger is on the sensor it
// runs Img2Tz(1) and Search/HighSpeedSearch, and a match becomes one punch carrying the page id and
// score (gateway/ maps page → person through its `enrollments` table). A finger must be lifted
// before the next identify, so one touch is one punch. Installer operations (enroll, delete, list,
// backup/restore) take the same lock as one identify cycle, so the loop pauses while they run.
//
// The port is a ReopeningPort (reopens with backoff after unplug). Each open gets a fresh module
// client; the module counts as connected once VfyPwd (when configured) and ReadSysPara succeed.
import { EventEmitter } from 'node:events';
import type { R30xClockConfig } from '../../config/clocks.js';
import { silentLogger, type DriverLogger } from '../logger.js';
import { Backoff, type BackoffOptions } from '../serial/backoff.js';
import { ReopeningPort, type ReopeningPortOptions } from '../serial/reopening-port.js';
import type { ClockDriver, ClockEvents, ClockStatus, PunchSink } from '../types.js';
import { parseAddress } from './packet.js';
import type { BadFrame } from './packet-parser.js';
import { R30xClosedError, R30xModuleClient, R30xModuleError, R30xTimeoutError, type SystemParameters } from './module-client.js';

export interface R30xDriverOptions {
  logger?: DriverLogger;
  /** serialport binding (tests: MockBinding); default chosen by path. */
  binding?: ReopeningPortOptions['binding'];
  /** Port reopen and module re-handshake delays. */
  backoff?: BackoffOptions;
  /** Answer timeout per module command (default 2000 ms). */
  commandTimeoutMs?: number;
  /** Consecutive unanswered commands after which the module counts as offline (default 3). */
  maxTimeouts?: number;
  /** How long enroll() waits for a finger to be placed or lifted (default 30 s). */
  enrollTimeoutMs?: number;
}

export type EnrollStep = 'place-finger' | 'lift-finger' | 'place-finger-again' | 'combining' | 'stored';

export interface TemplateBackup {
  page: number;
  /** Template bytes as the module uploaded them, base64. */
  template: string;
}

export class R30xDriver extends EventEmitter<ClockEvents> implements ClockDriver {
  readonly id: string;
  readonly driver = 'r30x';
  private readonly log: DriverLogger;
  private readonly port: ReopeningPort;
  private readonly address: number;
  private readonly password: number | undefined;
  private client: R30xModuleClient | null = null;
  private params: SystemParameters | null = null;
  private ready = false;
  private running = false;
  /** A finger stayed on the sensor since the last identify/enroll: wait until it is lifted. */
  private awaitingLift = false;
  private lock: Promise<unknown> = Promise.resolve();
  private session: Promise<void> | null = null;
  private readonly wakers = new Set<() => void>();
  private readonly stats = { lastFrameAt: null as string | null, framesOk: 0, framesBad: 0, punches: 0, lastError: null as string | null };

  constructor(
    private readonly cfg: R30xClockConfig,
    private readonly sink: PunchSink,
    private readonly opts: R30xDriverOptions = {},
  ) {
    super();
    this.id = cfg.id;
    this.log = opts.logger ?? silentLogger;
    this.address = parseAddress(cfg.address);
    this.password = cfg.password === undefined ? undefined : parseAddress(cfg.password);
    this.port = new ReopeningPort({ path: cfg.port, baudRate: cfg.baudRate, binding: opts.binding, logger: this.log, backoff: opts.backoff });
    this.port.on('open', () => this.onOpen());
    this.port.on('close', (reason) => this.onClose(reason));
    this.port.on('error', (err) => (this.stats.lastError = err.message));
    this.port.on('data', (chunk) => this.client?.feed(chunk));
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.port.start();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const wake of [...this.wakers]) wake();
    this.client?.shutdown('driver stopped');
    await this.session;
    await this.lock;
    await this.port.stop();
    this.client = null;
    this.setReady(false, 'driver stopped');
  }

  status(): ClockStatus {
    return { id: this.id, driver: this.driver, connected: this.ready, ...this.stats };
  }

  // ---- installer operations -----------------------------------------------------------------

  /** Enrolls a finger into `page` (default: the first free page). Two captures, RegModel, Store. */
  enroll(page?: number, onStep?: (step: EnrollStep) => void): Promise<{ page: number }> {
    return this.installer(async (c) => {
      const capacity = this.capacity();
      let target = page;
      if (target === undefined) {
        const used = new Set(await this.usedPages(c));
        target = 0;
        while (target < capacity && used.has(target)) target++;
        if (target >= capacity) throw new Error(`fingerprint library is full (${capacity} pages)`);
      }
      this.checkPage(target);
      onStep?.('place-finger');
      await this.waitForFinger(c, true);
      await c.img2Tz(1);
      onStep?.('lift-finger');
      await this.waitForFinger(c, false);
      onStep?.('place-finger-again');
      await this.waitForFinger(c, true);
      await c.img2Tz(2);
      onStep?.('combining');
      await c.regModel();
      await c.store(1, target);
      // The enrolling finger is still on the sensor: it must not become a punch.
      this.awaitingLift = true;
      onStep?.('stored');
      this.log.info({ page: target }, 'fingerprint enrolled');
      return { page: target };
    });
  }

  deleteTemplate(page: number): Promise<void> {
    return this.installer(async (c) => {
      this.checkPage(page);
      await c.deleteChar(page, 1);
      this.log.info({ page }, 'fingerprint template deleted');
    });
  }

  /** Used page ids, ascending. */
  listTemplates(): Promise<number[]> {
    return this.installer((c) => this.usedPages(c));
  }

  systemParameters(): Promise<SystemParameters> {
    return this.installer(async (c) => (this.params = await c.readSysPara()));
  }

  /** Every used page's template (LoadChar + UpChar), to move a roster to a replacement module. */
  backupTemplates(): Promise<TemplateBackup[]> {
    return this.installer(async (c) => {
      const out: TemplateBackup[] = [];
      for (const page of await this.usedPages(c)) {
        await c.loadChar(1, page);
        out.push({ page, template: (await c.upChar(1)).toString('base64') });
      }
      return out;
    });
  }

  /** Writes templates back (DownChar + Store). Validates the whole list before touching the module. */
  restoreTemplates(list: readonly TemplateBackup[]): Promise<{ restored: number }> {
    return this.installer(async (c) => {
      const decoded = list.map((item) => {
        this.checkPage(item.page);
        const bytes = Buffer.from(item.template, 'base64');
        if (bytes.length === 0 || bytes.toString('base64') !== item.template.replace(/\s+/g, '')) throw new Error(`template for page ${item.page} is not valid base64`);
        return { page: item.page, bytes };
      });
      for (const { page, bytes } of decoded) {
        await c.downChar(1, bytes);
        await c.store(1, page);
      }
      this.log.info({ count: decoded.length }, 'fingerprint templates restored');
      return { restored: decoded.length };
    });
  }

  // ---- connection ---------------------------------------------------------------------------

  private onOpen(): void {
    const client = new R30xModuleClient((frame) => this.port.write(frame), { address: this.address, timeoutMs: this.opts.commandTimeoutMs });
    client.on('packet', () => {
      this.stats.framesOk++;
      this.stats.lastFrameAt = new Date().toISOString();
    });
    client.on('bad-frame', (b: BadFrame) => {
      this.stats.framesBad++;
      this.stats.lastFrameAt = new Date().toISOString();
      this.emit('notice', 'bad-frame', { reason: b.reason, hex: b.hex });
    });
    this.client = client;
    this.session = this.runSession(client);
  }

  private onClose(reason: string): void {
    this.client?.shutdown(reason);
    this.setReady(false, reason);
  }

  private setReady(ready: boolean, reason?: string): void {
    if (this.ready === ready) return;
    this.ready = ready;
    this.emit('connection', ready, reason);
  }

  /** Handshake, then identify until this client's connection ends or the driver stops. */
  private async runSession(client: R30xModuleClient): Promise<void> {
    const backoff = new Backoff(this.opts.backoff);
    let timeouts = 0;
    while (this.running && !client.closed) {
      if (!this.ready) {
        try {
          await this.withLock(() => this.handshake(client));
          backoff.reset();
          timeouts = 0;
          this.setReady(true);
        } catch (err) {
          this.noteError(err, 'module handshake failed');
          await this.sleep(backoff.next());
          continue;
        }
      }
      try {
        await this.withLock(() => this.identifyOnce(client));
        timeouts = 0;
      } catch (err) {
        if (err instanceof R30xClosedError) break;
        this.noteError(err, 'identify cycle failed');
        if (err instanceof R30xTimeoutError && ++timeouts >= (this.opts.maxTimeouts ?? 3)) this.setReady(false, 'module not answering');
      }
      await this.sleep(this.cfg.pollMs);
    }
  }

  private async handshake(c: R30xModuleClient): Promise<void> {
    if (this.password !== undefined) await c.verifyPassword(this.password);
    this.params = await c.readSysPara();
    this.log.info({ capacity: this.params.capacity, packetSize: this.params.packetSize, securityLevel: this.params.securityLevel }, 'fingerprint module ready');
  }

  private async identifyOnce(c: R30xModuleClient): Promise<void> {
    if (!this.running) return;
    if (!(await c.genImg())) {
      this.awaitingLift = false;
      return;
    }
    if (this.awaitingLift) return;
    try {
      await c.img2Tz(1);
    } catch (err) {
      if (!(err instanceof R30xModuleError)) throw err;
      // Smudged or partial image: tell the installer UI, ask for a fresh touch.
      this.awaitingLift = true;
      this.emit('notice', 'finger-unreadable', { code: err.codeName });
      return;
    }
    const capacity = this.capacity();
    const hit = this.cfg.search === 'highspeed' ? await c.highSpeedSearch(1, 0, capacity) : await c.search(1, 0, capacity);
    this.awaitingLift = true;
    if (!hit || hit.score < this.cfg.minScore) {
      this.emit('notice', 'finger-rejected', hit ? { reason: 'low-score', page: hit.page, score: hit.score, minScore: this.cfg.minScore } : { reason: 'not-found' });
      return;
    }
    if (!this.running) return;
    try {
      this.sink({ clock: this.id, user: String(hit.page), verify: 'fingerprint', raw: hit.raw.toString('hex'), extra: { page: hit.page, score: hit.score } });
    } catch (err) {
      // Not stored: let the same touch be identified again rather than lose it.
      this.awaitingLift = false;
      this.noteError(err, 'punch could not be stored');
      this.emit('notice', 'store-failed', { page: hit.page, error: (err as Error).message });
      return;
    }
    this.stats.punches++;
  }

  // ---- helpers ------------------------------------------------------------------------------

  private installer<T>(fn: (c: R30xModuleClient) => Promise<T>): Promise<T> {
    return this.withLock(async () => {
      const c = this.client;
      if (!this.running || !c || c.closed || !this.ready) throw new Error(`fingerprint module ${this.id} is not connected`);
      return fn(c);
    });
  }

  private withLock<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private capacity(): number {
    return this.cfg.capacity ?? this.params?.capacity ?? 1000;
  }

  private checkPage(page: number): void {
    if (!Number.isInteger(page) || page < 0 || page >= this.capacity()) throw new RangeError(`page must be an integer 0..${this.capacity() - 1}`);
  }

  private async usedPages(c: R30xModuleClient): Promise<number[]> {
    const capacity = this.capacity();
    const used: number[] = [];
    for (let index = 0; index * 256 < capacity; index++) used.push(...(await c.readIndexTable(index)).filter((p) => p < capacity));
    return used;
  }

  private async waitForFinger(c: R30xModuleClient, present: boolean): Promise<void> {
    const deadline = Date.now() + (this.opts.enrollTimeoutMs ?? 30_000);
    while ((await c.genImg()) !== present) {
      if (!this.running) throw new Error('driver stopped');
      if (Date.now() > deadline) throw new Error(present ? 'no finger placed in time' : 'finger not lifted in time');
      await this.sleep(this.cfg.pollMs);
    }
  }

  private noteError(err: unknown, msg: string): void {
    const text = err instanceof Error ? err.message : String(err);
    this.stats.lastError = text;
    this.log.warn({ err: text }, msg);
  }

  /** A pause that stop() cuts short. */
  private sleep(ms: number): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => {
      const wakers = this.wakers;
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        wakers.delete(done);
        resolve();
      }
      wakers.add(done);
    });
  }
}
