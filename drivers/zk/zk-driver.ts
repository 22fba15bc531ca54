// A ZKTeco terminal as a tpgw clock. Each session: connect (TCP, UDP, or TCP then UDP), learn the
// serial number, subscribe to realtime EF_ATTLOG events (each stored through the sink, THEN
// acknowledged), optionally set the terminal's clock, download the whole log (and again every
// pollSeconds), probe with a keepalive. Downloads repeat what is already stored: every punch carries
// `extra.dedupeKey` = zk:<serial>:<user>:<device local time>, which the store uses to answer
// duplicate:true. The log is cleared only when configured, only when the store says every record of
// this download is settled at the center, and only when the terminal (disabled meanwhile) still
// holds exactly that many records. A dead session is replaced with backoff.
import { EventEmitter } from 'node:events';
import type { ZkClockConfig } from '../../config/clocks.js';
import type { ClockDriver, ClockEvents, ClockStatus, DevicePunch, PunchSink } from '../types.js';
import { silentLogger, type DriverLogger } from '../logger.js';
import { ZkClient, type ZkRealtimeEvent, type ZkTransport } from './zk-client.js';
import { EF } from './packet.js';
import { decodeRealtimeAttlog, isValidLocal, verifyFromZk, type AttRecord } from './attlog.js';
import { assertTimeZone, fieldsInZone, formatLocal, localToDate, localToIso, type Zone } from '../time/zoned-time.js';
import { ZkConnectionError, ZkTimeoutError } from './errors.js';

export interface ZkDriverOptions {
  logger?: DriverLogger;
  /** Whether the gateway's clock is synchronised (only then is the terminal's clock set). */
  isClockSynced?: () => boolean;
  /** True when every key is stored AND settled at the center (supplied by gateway/ from the store). */
  isSettled?: (dedupeKeys: string[]) => boolean;
  /** Reconnect delay: starts at initialMs, doubles per failure up to maxMs. */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Liveness probe interval; a probe that times out ends the session. Default min(30 s, poll). */
  keepaliveMs?: number;
  /** Bytes per READ_BUFFER request (default per transport). */
  chunkSize?: number;
  /** Clock difference tolerated before the terminal's clock is set. Default 2 s. */
  maxClockDriftSeconds?: number;
}

export interface ZkDownloadResult {
  records: number;
  stored: number;
  duplicates: number;
  cleared: boolean;
}

export interface ZkClockStatus extends ClockStatus {
  transport: ZkTransport | null;
  deviceSerial: string | null;
  firmware: string | null;
  recordsOnDevice: number | null;
  lastDownloadAt: string | null;
  lastDownload: ZkDownloadResult | null;
  downloadsFailed: number;
  /** Terminal clock minus gateway clock, seconds, at the last reading. */
  deviceClockOffsetSeconds: number | null;
  lastClearedAt: string | null;
}

export class ZkDriver extends EventEmitter<ClockEvents> implements ClockDriver {
  /** Serial -> clock id of drivers in this process, to catch two clocks sharing a serial. */
  private static readonly identities = new Map<string, string>();
  readonly id: string;
  readonly driver = 'zk';
  private readonly cfg: ZkClockConfig;
  private readonly sink: PunchSink;
  private readonly log: DriverLogger;
  private readonly opts: ZkDriverOptions;
  /** The configured zone, or undefined for the box's. */
  private readonly timeZone: Zone;
  private stopped = false;
  private client: ZkClient | null = null;
  private loopDone: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private stopListeners = new Set<() => void>();
  private downloading: Promise<ZkDownloadResult> | null = null;
  /** Stable device identity for dedupe keys: the serial once known, else host:port. */
  private identity: string;
  private st: ZkClockStatus;

  constructor(cfg: ZkClockConfig, sink: PunchSink, opts: ZkDriverOptions = {}) {
    super();
    this.cfg = cfg;
    this.id = cfg.id;
    this.sink = sink;
    this.opts = opts;
    this.log = opts.logger ?? silentLogger;
    this.timeZone = assertTimeZone(cfg.timezone);
    this.identity = `${cfg.host}:${cfg.port}`;
    this.st = {
      id: cfg.id,
      driver: 'zk',
      connected: false,
      lastFrameAt: null,
      framesOk: 0,
      framesBad: 0,
      punches: 0,
      lastError: null,
      transport: null,
      deviceSerial: null,
      firmware: null,
      recordsOnDevice: null,
      lastDownloadAt: null,
      lastDownload: null,
      downloadsFailed: 0,
      deviceClockOffsetSeconds: null,
      lastClearedAt: null,
    };
  }

  status(): ZkClockStatus {
    return { ...this.st, lastDownload: this.st.lastDownload ? { ...this.st.lastDownload } : null };
  }

  /** Starts the session loop; resolves once the first connection attempt has succeeded or failed. */
  start(): Promise<void> {
    if (this.loopDone) return Promise.resolve();
    this.stopped = false;
    return new Promise<void>((resolve) => {
      this.loopDone = this.loop(resolve);
    });
  }

  async stop(): Promise<void> {
    // From here on nothing reaches the sink (events and downloads check the flag).
    this.stopped = true;
    this.wake?.();
    const c = this.client;
    if (c) {
      // Say goodbye (CMD_EXIT) if the terminal answers quickly; never wait on a hung session.
      await Promise.race([c.close(), new Promise((r) => setTimeout(r, 1000).unref())]);
      c.destroy('driver stopped');
    }
    for (const f of [...this.stopListeners]) f();
    this.stopListeners.clear();
    await this.loopDone;
    this.loopDone = null;
  }

  /** Downloads the log now (installer "download", tests); joins a download already running. */
  async downloadNow(): Promise<ZkDownloadResult> {
    const c = this.client;
    if (!c || !c.isOpen) throw new ZkConnectionError('terminal not connected');
    return this.download(c);
  }

  // ---- session loop ----------------------------------------------------------------------------

  private async loop(firstAttempt: () => void): Promise<void> {
    const initial = this.opts.backoff?.initialMs ?? 1000;
    const max = this.opts.backoff?.maxMs ?? 60_000;
    let delay = initial;
    while (!this.stopped) {
      let client: ZkClient | null = null;
      try {
        client = await this.open();
        delay = initial;
        await this.runSession(client, firstAttempt);
      } catch (e) {
        this.fail(e, 'session');
      } finally {
        client?.destroy('session ended');
        this.client = null;
      }
      firstAttempt();
      this.setConnected(false, this.st.lastError ?? 'session ended');
      if (this.stopped) break;
      await this.sleep(delay);
      delay = Math.min(delay * 2, max);
    }
  }

  /** Opens a session on the configured transport; `auto` tries TCP, then UDP. */
  private async open(): Promise<ZkClient> {
    const order: ZkTransport[] = this.cfg.transport === 'auto' ? ['tcp', 'udp'] : [this.cfg.transport];
    let last: unknown = null;
    for (const transport of order) {
      if (this.stopped) break;
      const c = new ZkClient({
        host: this.cfg.host,
        port: this.cfg.port,
        transport,
        commKey: this.cfg.commKey,
        timeoutMs: this.cfg.timeoutMs,
        chunkSize: this.opts.chunkSize,
        logger: this.log,
      });
      c.on('frame', (ok) => {
        this.st.lastFrameAt = new Date().toISOString();
        if (ok) this.st.framesOk++;
        else this.st.framesBad++;
      });
      this.client = c;
      try {
        await c.connect();
        this.st.transport = transport;
        return c;
      } catch (e) {
        c.destroy('connect failed');
        this.client = null;
        last = e;
        this.log.debug({ transport, err: (e as Error).message }, 'zk: connect failed');
      }
    }
    throw last ?? new ZkConnectionError('driver stopped');
  }

  private async runSession(c: ZkClient, connected: () => void): Promise<void> {
    const ended = new Promise<string>((resolve) => c.once('close', resolve));
    c.on('event', (ev) => this.onEvent(c, ev));

    // The serial is part of every dedupe key, so it must not depend on luck: a terminal that does
    // not answer in time fails the session (and we retry); only one that answers "no such option"
    // is keyed by host:port instead.
    const serial = await c.readOption('~SerialNumber');
    if (serial) {
      this.st.deviceSerial = serial;
      this.identity = serial;
      const other = ZkDriver.identities.get(serial);
      if (other && other !== this.id) {
        // Two clocks answering with one serial would dedupe each other's punches away.
        this.log.error({ serial, otherClock: other }, 'zk: two clocks report the same serial number');
        this.emit('notice', 'duplicate-serial', { serial, otherClock: other });
      }
      ZkDriver.identities.set(serial, this.id);
    }
    this.st.firmware = await c.getVersion().catch(() => null);
    try {
      await c.regEvent(EF.ATTLOG);
    } catch (e) {
      // Realtime events are a convenience; downloads still deliver every punch.
      if (e instanceof ZkConnectionError) throw e;
      this.fail(e, 'realtime');
      this.emit('notice', 'realtime-refused', { error: (e as Error).message });
    }
    this.setConnected(true);
    connected();

    await this.checkClock(c).catch((e) => this.fail(e, 'clock'));
    void this.download(c).catch(() => undefined);

    const pollMs = Math.max(1, this.cfg.pollSeconds * 1000);
    const keepaliveMs = this.opts.keepaliveMs ?? Math.min(30_000, pollMs);
    const poll = setInterval(() => {
      void this.checkClock(c)
        .catch((e) => this.fail(e, 'clock'))
        .then(() => this.download(c))
        .catch(() => undefined);
    }, pollMs);
    let probing = false;
    const keepalive = setInterval(() => {
      // A download in progress proves the session alive (and its own timeouts end it otherwise).
      if (probing || this.downloading) return;
      probing = true;
      c.getFreeSizes()
        .then((s) => {
          this.st.recordsOnDevice = s.records;
        })
        .catch((e) => {
          // No answer: the terminal rebooted or the network dropped; start over.
          if (e instanceof ZkConnectionError) c.destroy(`keepalive failed: ${(e as Error).message}`);
        })
        .finally(() => {
          probing = false;
        });
    }, keepaliveMs);
    let onStop: (() => void) | null = null;
    const stopped = new Promise<string>((resolve) => {
      onStop = () => resolve('stopped');
      if (this.stopped) onStop();
      else this.stopListeners.add(onStop);
    });
    try {
      const reason = await Promise.race([ended, stopped]);
      if (!this.stopped) this.st.lastError = reason;
    } finally {
      clearInterval(poll);
      clearInterval(keepalive);
      if (onStop) this.stopListeners.delete(onStop);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }

  private setConnected(connected: boolean, reason?: string): void {
    if (this.st.connected === connected) return;
    this.st.connected = connected;
    this.log.info({ connected, reason, transport: this.st.transport }, connected ? 'zk: terminal online' : 'zk: terminal offline');
    this.emit('connection', connected, reason);
  }

  private fail(e: unknown, where: string): void {
    const msg = e instanceof Error ? e.message : String(e);
    this.st.lastError = `${where}: ${msg}`;
    this.log.warn({ where, err: msg }, 'zk: operation failed');
  }

  // ---- punches ---------------------------------------------------------------------------------

  /** The key the store dedupes on: the same punch from an event and from any download agrees. */
  dedupeKey(rec: Pick<AttRecord, 'user' | 'time'>): string {
    return `zk:${this.identity}:${rec.user}:${formatLocal(rec.time)}`;
  }

  /** Hands one record to the sink (synchronous, durable on return). Throws what the sink throws. */
  private deliver(rec: AttRecord, source: 'realtime' | 'download'): { key: string; duplicate: boolean } {
    const key = this.dedupeKey(rec);
    const local = formatLocal(rec.time);
    // An impossible terminal time (the packed format allows 31 February) names no instant. The
    // punch is still delivered, never dropped, but without deviceTime: the gateway stamps it at
    // receipt like any clock without a time, and extra.deviceLocalTime keeps what the terminal said.
    // (Rolling it over to 3 March would invent a plausible-looking time nobody could tell apart.)
    const valid = isValidLocal(rec.time);
    if (!valid) this.emit('notice', 'invalid-device-time', { user: rec.user, deviceLocalTime: local, source });
    const punch: DevicePunch = {
      clock: this.id,
      user: rec.user,
      verify: verifyFromZk(rec.verifyCode),
      ...(valid ? { deviceTime: localToIso(rec.time, this.timeZone) } : {}),
      raw: rec.raw.toString('hex'),
      extra: {
        dedupeKey: key,
        source,
        deviceSerial: this.st.deviceSerial,
        deviceLocalTime: local,
        verifyCode: rec.verifyCode,
        state: rec.state,
        ...(rec.uid !== undefined ? { uid: rec.uid } : {}),
        ...(rec.workcode !== undefined ? { workcode: rec.workcode } : {}),
      },
    };
    const ref = this.sink(punch);
    if (!ref.duplicate) this.st.punches++;
    return { key, duplicate: ref.duplicate };
  }

  private onEvent(c: ZkClient, ev: ZkRealtimeEvent): void {
    if (this.stopped) return; // not stored, so not acknowledged: it stays in the terminal's log
    if (ev.code !== EF.ATTLOG) {
      c.ackEvent(ev);
      return;
    }
    let records: AttRecord[];
    try {
      records = decodeRealtimeAttlog(ev.data);
    } catch (e) {
      // Unreadable event: acknowledge so it is not re-sent forever; the record is still in the
      // terminal's log and arrives with the next download.
      this.st.framesBad++;
      this.emit('notice', 'bad-event', { error: (e as Error).message, data: ev.data.toString('hex') });
      c.ackEvent(ev);
      return;
    }
    try {
      for (const rec of records) this.deliver(rec, 'realtime');
    } catch (e) {
      // Not stored: no ack, the terminal re-sends it (and the download finds it anyway).
      this.fail(e, 'store');
      this.emit('notice', 'store-failed', { error: (e as Error).message });
      return;
    }
    c.ackEvent(ev);
  }

  // ---- download, clear, clock ------------------------------------------------------------------

  private download(c: ZkClient): Promise<ZkDownloadResult> {
    if (!this.downloading) {
      this.downloading = this.downloadPass(c).finally(() => {
        this.downloading = null;
      });
    }
    return this.downloading;
  }

  private async downloadPass(c: ZkClient): Promise<ZkDownloadResult> {
    let result: ZkDownloadResult;
    try {
      const { records, countBefore } = await c.getAttendance();
      this.st.recordsOnDevice = countBefore;
      const keys: string[] = [];
      let stored = 0;
      for (const rec of records) {
        if (this.stopped) throw new ZkConnectionError('driver stopped');
        const r = this.deliver(rec, 'download');
        keys.push(r.key);
        if (!r.duplicate) stored++;
      }
      result = { records: records.length, stored, duplicates: records.length - stored, cleared: false };
      this.st.lastDownloadAt = new Date().toISOString();
      if (this.cfg.clearLogWhenSettled) result.cleared = await this.clearIfSettled(c, keys);
      this.st.lastDownload = result;
      this.log.info({ ...result }, 'zk: log downloaded');
      return result;
    } catch (e) {
      this.st.downloadsFailed++;
      this.fail(e, 'download');
      this.emit('notice', 'download-failed', { error: (e as Error).message });
      // A session that stopped answering is replaced; a refused or short download is retried at the
      // next poll (nothing of it was stored unless the whole log decoded).
      if (e instanceof ZkTimeoutError) c.destroy(`download timed out: ${e.message}`);
      throw e;
    }
  }

  /**
   * Clears the terminal's log when every record in it is settled at the center. A first check on
   * the download just made avoids disabling the terminal for nothing; then the terminal is disabled
   * (nobody can punch), its log is read again, and only if that log is exactly the records already
   * downloaded (same count, same keys) and every one is settled is it cleared. The second read is
   * what makes this safe on a full log that overwrites its oldest records: a count alone would not
   * notice a record replaced by a new punch.
   */
  private async clearIfSettled(c: ZkClient, keys: string[]): Promise<boolean> {
    if (keys.length === 0 || !this.settled(keys)) return false;
    await c.disableDevice();
    try {
      const again = await c.getAttendance();
      const keys2 = again.records.map((r) => this.dedupeKey(r));
      const known = new Set(keys);
      if (keys2.length !== keys.length || !keys2.every((k) => known.has(k))) {
        this.emit('notice', 'clear-skipped', { downloaded: keys.length, onDevice: keys2.length });
        return false;
      }
      if (!this.settled(keys2)) return false;
      await c.clearAttlog();
      this.st.lastClearedAt = new Date().toISOString();
      this.st.recordsOnDevice = 0;
      this.emit('notice', 'log-cleared', { records: keys.length });
      return true;
    } finally {
      await c.enableDevice().catch((e) => this.fail(e, 'enable'));
    }
  }

  /** The store's verdict; a check that throws counts as "not settled" (the log is kept). */
  private settled(keys: string[]): boolean {
    if (!this.opts.isSettled) return false;
    try {
      return this.opts.isSettled(keys) === true;
    } catch (e) {
      this.fail(e, 'settlement check');
      this.emit('notice', 'clear-skipped', { error: (e as Error).message });
      return false;
    }
  }

  /** Reads the terminal's clock; sets it from ours when configured, ours is synced, and it drifted. */
  private async checkClock(c: ZkClient): Promise<void> {
    const t0 = Date.now();
    const dev = await c.getTime();
    // A terminal clock showing an impossible date has no offset to measure; it is reported as
    // unknown (null) and, when syncing is allowed, set like any clock that drifted too far.
    const offset = isValidLocal(dev)
      ? Math.round((localToDate(dev, this.timeZone).getTime() - (t0 + Date.now()) / 2) / 1000)
      : null;
    this.st.deviceClockOffsetSeconds = offset;
    if (offset === null) this.emit('notice', 'invalid-device-clock', { deviceLocalTime: formatLocal(dev) });
    if (!this.cfg.syncTime || !this.opts.isClockSynced?.()) return;
    if (offset !== null && Math.abs(offset) <= (this.opts.maxClockDriftSeconds ?? 2)) return;
    await c.setTime(fieldsInZone(new Date(), this.timeZone));
    this.st.deviceClockOffsetSeconds = 0;
    this.emit('notice', 'device-clock-set', { previousOffsetSeconds: offset });
  }
}
