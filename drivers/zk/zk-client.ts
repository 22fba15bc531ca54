// One session with a ZK terminal over TCP or UDP: connect and authenticate, strictly one command
// in flight (terminals answer in order and echo the reply id), realtime events delivered out of
// band for the caller to acknowledge, and the chunked bulk read that only ever returns a buffer
// whose every byte arrived (sizes are checked per chunk and in total; a short chunk is re-read).
import { EventEmitter } from 'node:events';
import { createConnection, type Socket } from 'node:net';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { isIP } from 'node:net';
import { silentLogger, type DriverLogger } from '../logger.js';
import {
  CMD,
  commandName,
  decodePacket,
  encodePacket,
  frameTcp,
  makeCommKey,
  REPLY_ID_MODULO,
  type DecodedPacket,
} from './packet.js';
import { TcpFramer } from './tcp-framer.js';
import { decodeAttlogBuffer, decodePackedTime, encodePackedTime, type AttRecord, type RecordSize } from './attlog.js';
import type { LocalFields } from '../time/zoned-time.js';
import { ZkAuthError, ZkCommandError, ZkConnectionError, ZkIncompleteDownloadError, ZkTimeoutError } from './errors.js';

export type ZkTransport = 'tcp' | 'udp';

export interface ZkClientOptions {
  host: string;
  port: number;
  transport: ZkTransport;
  /** Comm key set on the terminal (0 = none). */
  commKey?: number;
  /** Time allowed for each reply packet. */
  timeoutMs?: number;
  /** Bytes per READ_BUFFER request; default 0xFFC0 over TCP, 16 KiB over UDP (as pyzk). */
  chunkSize?: number;
  /** Attempts per chunk before the download is abandoned. */
  chunkAttempts?: number;
  logger?: DriverLogger;
}

export interface ZkRealtimeEvent {
  /** Event flag (EF_ATTLOG = 1, ...), carried in the session-id field. */
  code: number;
  replyId: number;
  data: Buffer;
}

export interface ZkFreeSizes {
  users: number;
  fingers: number;
  records: number;
  cards: number;
  fingerCapacity: number;
  userCapacity: number;
  recordCapacity: number;
}

export interface ZkClientEvents {
  event: [ev: ZkRealtimeEvent];
  /** Every packet received: ok = decoded with a valid checksum. */
  frame: [ok: boolean];
  close: [reason: string];
}

type Collector = (p: DecodedPacket) => void;

interface Inflight {
  replyId: number;
  command: number;
  onPacket: Collector;
  fail: (err: Error) => void;
  armTimer: () => void;
}

export class ZkClient extends EventEmitter<ZkClientEvents> {
  readonly transport: ZkTransport;
  private readonly opts: Required<Omit<ZkClientOptions, 'logger' | 'chunkSize'>> & { chunkSize: number };
  private readonly log: DriverLogger;
  private tcp: Socket | null = null;
  private udp: UdpSocket | null = null;
  private framer = new TcpFramer();
  private sessionId = 0;
  private replyId = 0;
  private inflight: Inflight | null = null;
  private lock: Promise<unknown> = Promise.resolve();
  private closed = false;
  private closeReason = '';
  /** Record size of the last successful download, to break ties. */
  private lastRecordSize: RecordSize | undefined;
  /** The terminal refused CMD_PREPARE_BUFFER once: use CMD_ATTLOG_RRQ from then on. */
  private noBufferedRead = false;

  constructor(opts: ZkClientOptions) {
    super();
    this.transport = opts.transport;
    this.log = opts.logger ?? silentLogger;
    this.opts = {
      host: opts.host,
      port: opts.port,
      transport: opts.transport,
      commKey: opts.commKey ?? 0,
      timeoutMs: opts.timeoutMs ?? 5000,
      chunkSize: opts.chunkSize ?? (opts.transport === 'tcp' ? 0xffc0 : 16 * 1024),
      chunkAttempts: opts.chunkAttempts ?? 3,
    };
  }

  get isOpen(): boolean {
    return !this.closed && (this.tcp !== null || this.udp !== null);
  }

  get session(): number {
    return this.sessionId;
  }

  // ---- connection ------------------------------------------------------------------------------

  /** Opens the socket and the session (CMD_CONNECT, then CMD_AUTH when the terminal asks). */
  async connect(): Promise<void> {
    if (this.opts.transport === 'tcp') await this.openTcp();
    else await this.openUdp();
    this.sessionId = 0;
    this.replyId = 0;
    let reply = await this.exchangeOne(CMD.CONNECT, Buffer.alloc(0));
    this.sessionId = reply.sessionId;
    if (reply.command === CMD.ACK_UNAUTH) {
      reply = await this.exchangeOne(CMD.AUTH, makeCommKey(this.opts.commKey, this.sessionId));
      if (reply.command !== CMD.ACK_OK) {
        this.destroy('authentication refused');
        throw new ZkAuthError('terminal refused the comm key');
      }
    } else if (reply.command !== CMD.ACK_OK) {
      this.destroy('connect refused');
      throw new ZkCommandError(`CMD_CONNECT answered with ${commandName(reply.command)}`, reply.command);
    }
  }

  private openTcp(): Promise<void> {
    return new Promise((resolve, reject) => {
      const sock = createConnection({ host: this.opts.host, port: this.opts.port });
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new ZkTimeoutError(`TCP connect to ${this.opts.host}:${this.opts.port} timed out`));
      }, this.opts.timeoutMs);
      sock.once('connect', () => {
        clearTimeout(timer);
        if (this.closed) {
          // destroy() came while connecting: do not adopt the socket.
          sock.destroy();
          reject(new ZkConnectionError(this.closeReason));
          return;
        }
        sock.setNoDelay(true);
        sock.setKeepAlive(true, 10_000);
        this.tcp = sock;
        sock.on('data', (chunk) => this.onTcpData(chunk));
        sock.on('close', () => this.destroy('connection closed'));
        resolve();
      });
      sock.on('error', (err) => {
        clearTimeout(timer);
        if (this.tcp === sock) this.destroy(`socket error: ${err.message}`);
        else reject(new ZkConnectionError(`TCP connect to ${this.opts.host}:${this.opts.port}: ${err.message}`));
      });
    });
  }

  private openUdp(): Promise<void> {
    return new Promise((resolve, reject) => {
      const type = isIP(this.opts.host) === 6 ? 'udp6' : 'udp4';
      const sock = createSocket(type);
      const onError = (err: Error): void => {
        sock.close();
        reject(new ZkConnectionError(`UDP ${this.opts.host}:${this.opts.port}: ${err.message}`));
      };
      sock.once('error', onError);
      // connect() makes the kernel drop datagrams from anyone but the terminal.
      sock.connect(this.opts.port, this.opts.host, () => {
        sock.off('error', onError);
        if (this.closed) {
          sock.close();
          reject(new ZkConnectionError(this.closeReason));
          return;
        }
        this.udp = sock;
        sock.on('message', (msg) => this.onDatagram(msg));
        sock.on('error', (err) => this.destroy(`socket error: ${err.message}`));
        sock.on('close', () => this.destroy('socket closed'));
        resolve();
      });
    });
  }

  /** Ends the session politely (CMD_EXIT, best effort) and closes the socket. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.isOpen) {
      try {
        await this.exchangeOne(CMD.EXIT, Buffer.alloc(0), Math.min(this.opts.timeoutMs, 1000));
      } catch {
        /* the terminal may already be gone */
      }
    }
    this.destroy('closed by gateway');
  }

  /** Closes at once; pending requests fail with ZkConnectionError. */
  destroy(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    const tcp = this.tcp;
    const udp = this.udp;
    this.tcp = null;
    this.udp = null;
    tcp?.destroy();
    if (udp) {
      try {
        udp.close();
      } catch {
        /* already closed */
      }
    }
    this.inflight?.fail(new ZkConnectionError(reason));
    this.inflight = null;
    this.emit('close', reason);
  }

  // ---- receiving -------------------------------------------------------------------------------

  private onTcpData(chunk: Buffer): void {
    const before = this.framer.stats.badFrames;
    const packets = this.framer.push(chunk);
    for (let i = before; i < this.framer.stats.badFrames; i++) this.emit('frame', false);
    for (const p of packets) this.onPacket(p);
  }

  private onDatagram(msg: Buffer): void {
    const p = decodePacket(msg);
    if (!p || !p.checksumOk) {
      this.emit('frame', false);
      return;
    }
    this.onPacket(p);
  }

  private onPacket(p: DecodedPacket): void {
    this.emit('frame', true);
    if (p.command === CMD.REG_EVENT) {
      this.emit('event', { code: p.sessionId, replyId: p.replyId, data: p.data });
      return;
    }
    const f = this.inflight;
    if (f && p.replyId === f.replyId) {
      f.armTimer();
      f.onPacket(p);
    } else {
      this.log.debug({ command: commandName(p.command), replyId: p.replyId }, 'zk: stray reply ignored');
    }
  }

  /** Acknowledges a realtime event; the terminal re-sends it until it is acknowledged. */
  ackEvent(ev: ZkRealtimeEvent): void {
    try {
      this.write(encodePacket({ command: CMD.ACK_OK, sessionId: this.sessionId, replyId: ev.replyId }));
    } catch (e) {
      // Session gone: the terminal keeps the record and the next download brings it.
      this.log.debug({ err: (e as Error).message }, 'zk: event ack not sent');
    }
  }

  // ---- requests --------------------------------------------------------------------------------

  private write(packet: Buffer): void {
    if (this.tcp) this.tcp.write(frameTcp(packet));
    else if (this.udp) this.udp.send(packet);
    else throw new ZkConnectionError(this.closeReason || 'not connected');
  }

  /**
   * Sends one command and feeds each reply packet carrying its reply id to `collect`, until
   * `collect` calls done or fail. Commands are serialised: the next waits for this one.
   */
  private exchange<T>(
    command: number,
    data: Buffer,
    collect: (p: DecodedPacket, done: (v: T) => void, fail: (e: Error) => void) => void,
    timeoutMs = this.opts.timeoutMs,
  ): Promise<T> {
    const run = (): Promise<T> =>
      new Promise<T>((resolve, reject) => {
        if (this.closed || (!this.tcp && !this.udp)) {
          reject(new ZkConnectionError(this.closeReason || 'not connected'));
          return;
        }
        const replyId = this.replyId;
        this.replyId = (this.replyId + 1) % REPLY_ID_MODULO;
        let timer: NodeJS.Timeout | undefined;
        let settled = false;
        const finish = (): void => {
          settled = true;
          if (timer) clearTimeout(timer);
          if (this.inflight === entry) this.inflight = null;
        };
        const done = (v: T): void => {
          if (settled) return;
          finish();
          resolve(v);
        };
        const fail = (e: Error): void => {
          if (settled) return;
          finish();
          reject(e);
        };
        const entry: Inflight = {
          replyId,
          command,
          onPacket: (p) => collect(p, done, fail),
          fail,
          armTimer: () => {
            if (timer) clearTimeout(timer);
            timer = setTimeout(() => {
              // Whatever is half-buffered belongs to the reply we gave up on.
              this.framer.reset();
              fail(new ZkTimeoutError(`${commandName(command)}: no reply within ${timeoutMs} ms`));
            }, timeoutMs);
          },
        };
        this.inflight = entry;
        entry.armTimer();
        try {
          this.write(encodePacket({ command, sessionId: this.sessionId, replyId, data }));
        } catch (e) {
          fail(e as Error);
        }
      });
    const p = this.lock.then(run, run);
    this.lock = p.catch(() => undefined);
    return p;
  }

  /** One command, one reply packet (any reply code). */
  exchangeOne(command: number, data: Buffer = Buffer.alloc(0), timeoutMs?: number): Promise<DecodedPacket> {
    return this.exchange<DecodedPacket>(command, data, (p, done) => done(p), timeoutMs);
  }

  /** One command that must be answered with CMD_ACK_OK; resolves with the reply's data. */
  async command(command: number, data: Buffer = Buffer.alloc(0)): Promise<Buffer> {
    const r = await this.exchangeOne(command, data);
    if (r.command === CMD.ACK_UNAUTH) throw new ZkAuthError(`${commandName(command)}: session not authorised`);
    if (r.command !== CMD.ACK_OK) {
      throw new ZkCommandError(`${commandName(command)} answered with ${commandName(r.command)}`, r.command);
    }
    return r.data;
  }

  /**
   * A command whose answer may be data: CMD_DATA with the payload directly, CMD_PREPARE_DATA
   * (announcing the size) + CMD_DATA packet(s) + CMD_ACK_OK, or a bare CMD_ACK_OK (`data: null`,
   * `info` = its data). A sequence whose bytes do not add up to the announced size is rejected.
   */
  requestData(command: number, data: Buffer): Promise<{ data: Buffer | null; info: Buffer }> {
    let expected = -1;
    const parts: Buffer[] = [];
    let received = 0;
    return this.exchange(command, data, (p, done, fail) => {
      if (expected < 0) {
        if (p.command === CMD.DATA) return done({ data: p.data, info: Buffer.alloc(0) });
        if (p.command === CMD.ACK_OK) return done({ data: null, info: p.data });
        if (p.command === CMD.PREPARE_DATA && p.data.length >= 4) {
          expected = p.data.readUInt32LE(0);
          return;
        }
        return fail(new ZkCommandError(`${commandName(command)} answered with ${commandName(p.command)}`, p.command));
      }
      if (p.command === CMD.DATA) {
        parts.push(p.data);
        received += p.data.length;
        if (received > expected) fail(new ZkIncompleteDownloadError(`${commandName(command)}: ${received} bytes received, ${expected} announced`));
        return;
      }
      if (p.command === CMD.ACK_OK) {
        if (received !== expected) {
          return fail(new ZkIncompleteDownloadError(`${commandName(command)}: ${received} of ${expected} bytes received`));
        }
        return done({ data: Buffer.concat(parts, received), info: p.data });
      }
      fail(new ZkCommandError(`${commandName(command)}: unexpected ${commandName(p.command)} in data`, p.command));
    });
  }

  // ---- terminal operations ---------------------------------------------------------------------

  async enableDevice(): Promise<void> {
    await this.command(CMD.ENABLEDEVICE);
  }

  async disableDevice(): Promise<void> {
    await this.command(CMD.DISABLEDEVICE);
  }

  async refreshData(): Promise<void> {
    await this.command(CMD.REFRESHDATA);
  }

  /** Subscribes to realtime events (EF_* flags; 0 unsubscribes). */
  async regEvent(flags: number): Promise<void> {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(flags >>> 0, 0);
    await this.command(CMD.REG_EVENT, b);
  }

  /** A CMD_OPTIONS_RRQ parameter (`~SerialNumber`, `~DeviceName`, ...); null when not answered. */
  async readOption(name: string): Promise<string | null> {
    const r = await this.exchangeOne(CMD.OPTIONS_RRQ, Buffer.from(`${name}\0`, 'latin1'));
    if (r.command !== CMD.ACK_OK) return null;
    const text = r.data.toString('latin1');
    const eq = text.indexOf('=');
    const value = eq >= 0 ? text.slice(eq + 1) : text;
    const nul = value.indexOf('\0');
    return nul >= 0 ? value.slice(0, nul) : value;
  }

  async getVersion(): Promise<string> {
    const d = await this.command(CMD.GET_VERSION);
    const nul = d.indexOf(0);
    return d.subarray(0, nul >= 0 ? nul : d.length).toString('latin1');
  }

  /** Record counts and capacities (CMD_GET_FREE_SIZES: 20 int32 fields, layout as pyzk reads it). */
  async getFreeSizes(): Promise<ZkFreeSizes> {
    const d = await this.command(CMD.GET_FREE_SIZES);
    if (d.length < 80) throw new ZkCommandError(`CMD_GET_FREE_SIZES returned ${d.length} bytes, expected 80 or more`, CMD.ACK_OK);
    const f = (i: number): number => d.readInt32LE(i * 4);
    return {
      users: f(4),
      fingers: f(6),
      records: f(8),
      cards: f(12),
      fingerCapacity: f(14),
      userCapacity: f(15),
      recordCapacity: f(16),
    };
  }

  /** The terminal's wall-clock time (naive local parts). */
  async getTime(): Promise<LocalFields> {
    const d = await this.command(CMD.GET_TIME);
    if (d.length < 4) throw new ZkCommandError('CMD_GET_TIME returned no time', CMD.ACK_OK);
    return decodePackedTime(d.readUInt32LE(0));
  }

  /** Sets the terminal's clock and makes it take effect (CMD_REFRESHDATA). */
  async setTime(p: LocalFields): Promise<void> {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(encodePackedTime(p), 0);
    await this.command(CMD.SET_TIME, b);
    await this.refreshData();
  }

  /** Deletes every attendance record on the terminal. The caller decides when that is safe. */
  async clearAttlog(): Promise<void> {
    await this.command(CMD.CLEAR_ATTLOG);
    await this.refreshData();
  }

  /**
   * Reads a whole data set with CMD_PREPARE_BUFFER / CMD_READ_BUFFER in chunks / CMD_FREE_DATA.
   * Each chunk must arrive whole (re-read up to `chunkAttempts` times); the result is exactly the
   * announced size or the call throws ZkIncompleteDownloadError.
   */
  async readWithBuffer(command: number, fct = 0, ext = 0): Promise<Buffer> {
    const req = Buffer.alloc(11);
    req[0] = 1;
    req.writeUInt16LE(command, 1);
    req.writeInt32LE(fct, 3);
    req.writeInt32LE(ext, 7);
    const first = await this.requestData(CMD.PREPARE_BUFFER, req);
    if (first.data) return first.data; // small sets come back at once
    if (first.info.length < 5) throw new ZkCommandError('CMD_PREPARE_BUFFER: no size in reply', CMD.ACK_OK);
    const size = first.info.readUInt32LE(1);
    // An empty set announced through the buffer path: the same as a direct empty answer.
    if (size === 0) {
      await this.command(CMD.FREE_DATA).catch(() => undefined);
      return Buffer.alloc(4);
    }
    const out = Buffer.alloc(size);
    let offset = 0;
    try {
      while (offset < size) {
        const len = Math.min(this.opts.chunkSize, size - offset);
        const chunk = await this.readChunk(offset, len);
        chunk.copy(out, offset);
        offset += len;
      }
    } finally {
      // Release the terminal's buffer whatever happened (best effort when the session died).
      if (this.isOpen) await this.command(CMD.FREE_DATA).catch(() => undefined);
    }
    return out;
  }

  private async readChunk(start: number, len: number): Promise<Buffer> {
    const req = Buffer.alloc(8);
    req.writeInt32LE(start, 0);
    req.writeInt32LE(len, 4);
    let lastError: Error | null = null;
    for (let attempt = 1; attempt <= this.opts.chunkAttempts; attempt++) {
      try {
        const r = await this.requestData(CMD.READ_BUFFER, req);
        if (r.data && r.data.length === len) return r.data;
        lastError = new ZkIncompleteDownloadError(`chunk at ${start}: ${r.data?.length ?? 0} of ${len} bytes`);
      } catch (e) {
        if (e instanceof ZkConnectionError && !(e instanceof ZkTimeoutError)) throw e;
        lastError = e as Error;
      }
      if (!this.isOpen) break;
      this.log.warn({ start, len, attempt, err: lastError.message }, 'zk: chunk incomplete, reading it again');
    }
    throw new ZkIncompleteDownloadError(`chunk at ${start} (${len} bytes) failed: ${lastError?.message ?? 'session closed'}`);
  }

  /** The raw log: chunked read, or CMD_ATTLOG_RRQ in one sequence on firmware without it. */
  private async readAttlogBytes(): Promise<Buffer> {
    if (!this.noBufferedRead) {
      try {
        return await this.readWithBuffer(CMD.ATTLOG_RRQ);
      } catch (e) {
        if (!(e instanceof ZkCommandError) || e.replyCode === CMD.ACK_OK) throw e;
        this.noBufferedRead = true;
        this.log.info({ reply: commandName(e.replyCode) }, 'zk: no CMD_PREPARE_BUFFER, reading the log with CMD_ATTLOG_RRQ');
      }
    }
    const r = await this.requestData(CMD.ATTLOG_RRQ, Buffer.alloc(0));
    if (!r.data) throw new ZkCommandError('CMD_ATTLOG_RRQ returned no data', CMD.ACK_OK);
    return r.data;
  }

  /**
   * The whole attendance log. The record count is read before (and, when the sizes disagree,
   * after) the download to tell the record layout; a partial log is never returned.
   */
  async getAttendance(): Promise<{ records: AttRecord[]; recordSize: RecordSize | null; countBefore: number }> {
    const before = await this.getFreeSizes();
    const buf = await this.readAttlogBytes();
    let counts = [before.records];
    if (buf.length >= 4) {
      const total = buf.readUInt32LE(0);
      const s = before.records > 0 ? total / before.records : 0;
      if (total > 0 && ![8, 16, 40, 49].includes(s)) counts = [before.records, (await this.getFreeSizes()).records];
    }
    const res = decodeAttlogBuffer(buf, counts, this.lastRecordSize);
    if (res.recordSize) this.lastRecordSize = res.recordSize;
    return { ...res, countBefore: before.records };
  }
}
