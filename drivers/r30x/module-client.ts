// Request/response client for one R30x module over one connection. The owner of the port feeds
// received bytes in (feed) and gives a write function, so the client works on a ReopeningPort, a
// plain SerialPort or a test stream alike; each (re)connection gets a fresh client and parser.
// The module answers one command at a time and its packets carry no sequence number, so commands
// are queued and run strictly one after another, each with its own timeout.
import { EventEmitter } from 'node:events';
import { Confirm, confirmName, confirmText, Instruction, type InstructionName } from './codes.js';
import { DEFAULT_ADDRESS, encodePacket, Pid, type R30xPacket } from './packet.js';
import { R30xPacketParser, type BadFrame } from './packet-parser.js';

/** The module answered with a confirmation code other than the ones the method treats as results. */
export class R30xModuleError extends Error {
  readonly codeName: string;
  constructor(
    readonly instruction: InstructionName,
    readonly code: number,
  ) {
    super(`${instruction}: ${confirmText(code)} (0x${code.toString(16).padStart(2, '0')})`);
    this.name = 'R30xModuleError';
    this.codeName = confirmName(code);
  }
}

export class R30xTimeoutError extends Error {
  constructor(readonly instruction: InstructionName, ms: number) {
    super(`${instruction}: no answer from the module within ${ms} ms`);
    this.name = 'R30xTimeoutError';
  }
}

export class R30xClosedError extends Error {
  constructor(reason: string) {
    super(`module link closed: ${reason}`);
    this.name = 'R30xClosedError';
  }
}

export type CharBuffer = 1 | 2;

export interface SearchHit {
  page: number;
  score: number;
  /** The ack packet exactly as received (for the punch's audit field). */
  raw: Buffer;
}

export interface SystemParameters {
  statusRegister: number;
  systemId: number;
  capacity: number;
  securityLevel: number;
  address: number;
  /** Data packet payload size in bytes (32, 64, 128 or 256). */
  packetSize: number;
  baudRate: number;
}

export interface ModuleClientOptions {
  address?: number;
  /** Per-command answer timeout. */
  timeoutMs?: number;
  /** Partial-frame resync time of the parser. */
  stallMs?: number;
  /** Largest template/char file accepted from UpChar (guards against a module that never ends). */
  maxUploadBytes?: number;
}

interface ClientEvents {
  packet: [R30xPacket];
  'bad-frame': [BadFrame];
  /** A packet no command was waiting for (late answer, other address): counted, ignored. */
  unexpected: [R30xPacket];
  closed: [Error];
}

interface Ack {
  code: number;
  data: Buffer;
  raw: Buffer;
}

export class R30xModuleClient extends EventEmitter<ClientEvents> {
  readonly address: number;
  /** Data packet size used by DownChar; updated by readSysPara(). */
  packetSize = 128;
  private readonly timeoutMs: number;
  private readonly maxUploadBytes: number;
  private readonly parser: R30xPacketParser;
  private queue: Promise<unknown> = Promise.resolve();
  private active = false;
  private inbox: R30xPacket[] = [];
  private wake: (() => void) | null = null;
  private closedError: Error | null = null;
  /** A command timed out: its answer may still arrive and must not be taken for the next one's. */
  private stale = false;
  private lastPacketAt = 0;
  /** When the line became stale (a command timed out); see settle(). */
  private staleSince = 0;

  constructor(
    private readonly writeBytes: (frame: Buffer) => unknown,
    opts: ModuleClientOptions = {},
  ) {
    super();
    this.address = opts.address ?? DEFAULT_ADDRESS;
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.maxUploadBytes = opts.maxUploadBytes ?? 8192;
    this.parser = new R30xPacketParser({ stallMs: opts.stallMs });
    this.parser.on('bad-frame', (b: BadFrame) => this.emit('bad-frame', b));
    this.parser.on('data', (p: R30xPacket) => this.onPacket(p));
  }

  /** Bytes received from the module, in order. */
  feed(chunk: Buffer): void {
    if (!this.closedError) this.parser.write(chunk);
  }

  /** Rejects the command in flight and every later one. Does not close the port (its owner does). */
  shutdown(reason: string): void {
    if (this.closedError) return;
    this.closedError = new R30xClosedError(reason);
    this.parser.destroy();
    this.wake?.();
    this.emit('closed', this.closedError);
  }

  get closed(): boolean {
    return this.closedError !== null;
  }

  // ---- commands ---------------------------------------------------------------------------

  async verifyPassword(password: number): Promise<void> {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(password >>> 0);
    await this.expectOk('vfyPwd', b);
  }

  /** True when an image was captured, false when no finger is on the sensor. */
  async genImg(): Promise<boolean> {
    const ack = await this.command('genImg');
    if (ack.code === Confirm.ok) return true;
    if (ack.code === Confirm.noFinger) return false;
    throw new R30xModuleError('genImg', ack.code);
  }

  async img2Tz(buffer: CharBuffer): Promise<void> {
    await this.expectOk('img2Tz', Buffer.from([buffer]));
  }

  /** Null when no template matches. */
  search(buffer: CharBuffer, start: number, count: number): Promise<SearchHit | null> {
    return this.searchWith('search', buffer, start, count);
  }

  highSpeedSearch(buffer: CharBuffer, start: number, count: number): Promise<SearchHit | null> {
    return this.searchWith('highSpeedSearch', buffer, start, count);
  }

  async regModel(): Promise<void> {
    await this.expectOk('regModel');
  }

  async store(buffer: CharBuffer, page: number): Promise<void> {
    await this.expectOk('store', Buffer.from([buffer, ...u16(page)]));
  }

  async loadChar(buffer: CharBuffer, page: number): Promise<void> {
    await this.expectOk('loadChar', Buffer.from([buffer, ...u16(page)]));
  }

  async deleteChar(page: number, count = 1): Promise<void> {
    await this.expectOk('deleteChar', Buffer.from([...u16(page), ...u16(count)]));
  }

  async empty(): Promise<void> {
    await this.expectOk('empty');
  }

  async readSysPara(): Promise<SystemParameters> {
    const { data } = await this.expectOk('readSysPara', Buffer.alloc(0), 16);
    const sizeCode = data.readUInt16BE(12);
    const params: SystemParameters = {
      statusRegister: data.readUInt16BE(0),
      systemId: data.readUInt16BE(2),
      capacity: data.readUInt16BE(4),
      securityLevel: data.readUInt16BE(6),
      address: data.readUInt32BE(8),
      packetSize: sizeCode <= 3 ? 32 << sizeCode : 128,
      baudRate: data.readUInt16BE(14) * 9600,
    };
    this.packetSize = params.packetSize;
    return params;
  }

  async templateNum(): Promise<number> {
    const { data } = await this.expectOk('templateNum', Buffer.alloc(0), 2);
    return data.readUInt16BE(0);
  }

  /** Used page ids in index page `indexPage` (each index page covers 256 library pages). */
  async readIndexTable(indexPage: number): Promise<number[]> {
    const { data } = await this.expectOk('readIndexTable', Buffer.from([indexPage]), 32);
    const used: number[] = [];
    for (let i = 0; i < 32; i++) for (let bit = 0; bit < 8; bit++) if (data[i] & (1 << bit)) used.push(indexPage * 256 + i * 8 + bit);
    return used;
  }

  /** Uploads char buffer `buffer` to the host (ack, then data packets until end-of-data). */
  upChar(buffer: CharBuffer): Promise<Buffer> {
    return this.serial(async () => {
      const ack = await this.transact('upChar', Buffer.from([buffer]));
      if (ack.code !== Confirm.ok) throw new R30xModuleError('upChar', ack.code);
      const parts: Buffer[] = [];
      let total = 0;
      for (;;) {
        const p = await this.next('upChar', (x) => x.pid === Pid.data || x.pid === Pid.endData);
        parts.push(p.payload);
        total += p.payload.length;
        if (total > this.maxUploadBytes) {
          this.stale = true; // the rest of the upload is still coming
          this.staleSince = Date.now();
          throw new Error(`upChar: module sent more than ${this.maxUploadBytes} bytes`);
        }
        if (p.pid === Pid.endData) return Buffer.concat(parts);
      }
    });
  }

  /** Downloads `data` into char buffer `buffer` (ack, then data packets of packetSize; the last is end-of-data). */
  downChar(buffer: CharBuffer, data: Buffer): Promise<void> {
    if (data.length === 0) return Promise.reject(new RangeError('downChar: empty template'));
    return this.serial(async () => {
      const ack = await this.transact('downChar', Buffer.from([buffer]));
      if (ack.code !== Confirm.ok) throw new R30xModuleError('downChar', ack.code);
      for (let off = 0; off < data.length; off += this.packetSize) {
        const last = off + this.packetSize >= data.length;
        this.write(encodePacket({ address: this.address, pid: last ? Pid.endData : Pid.data, payload: data.subarray(off, off + this.packetSize) }));
      }
      // The module does not acknowledge data packets; the following Store/Match reports problems.
    });
  }

  // ---- plumbing ---------------------------------------------------------------------------

  private async searchWith(name: 'search' | 'highSpeedSearch', buffer: CharBuffer, start: number, count: number): Promise<SearchHit | null> {
    const ack = await this.command(name, Buffer.from([buffer, ...u16(start), ...u16(count)]));
    if (ack.code === Confirm.notFound) return null;
    if (ack.code !== Confirm.ok) throw new R30xModuleError(name, ack.code);
    if (ack.data.length < 4) throw new Error(`${name}: ack too short`);
    return { page: ack.data.readUInt16BE(0), score: ack.data.readUInt16BE(2), raw: ack.raw };
  }

  private async expectOk(name: InstructionName, args = Buffer.alloc(0), dataBytes = 0): Promise<Ack> {
    const ack = await this.command(name, args);
    if (ack.code !== Confirm.ok) throw new R30xModuleError(name, ack.code);
    if (ack.data.length < dataBytes) throw new Error(`${name}: ack carries ${ack.data.length} bytes, expected ${dataBytes}`);
    return ack;
  }

  private command(name: InstructionName, args = Buffer.alloc(0)): Promise<Ack> {
    return this.serial(() => this.transact(name, args));
  }

  /** Runs `fn` alone: the module must not see a command before the previous one is answered. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = async () => {
      if (this.closedError) throw this.closedError;
      if (this.stale) await this.settle();
      this.active = true;
      this.inbox = [];
      try {
        return await fn();
      } finally {
        this.active = false;
        this.inbox = [];
      }
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /**
   * Waits until the line has been quiet for a moment (bounded), discarding late answers, so the
   * next command's answer cannot be confused with the one that timed out. R30x packets carry no
   * sequence number; silence is the only way to realign.
   */
  private async settle(): Promise<void> {
    // A late answer is most likely within one more command timeout of the one that expired, so
    // the line must have been quiet for quietMs AND that much time must have passed since the
    // timeout: quiet alone can be a coincidence of scheduling on a loaded box.
    const quietMs = 100;
    const notBefore = this.staleSince + this.timeoutMs;
    for (let i = 0; i < 20 + Math.ceil(this.timeoutMs / quietMs) && !this.closedError; i++) {
      await new Promise((r) => setTimeout(r, quietMs));
      const now = Date.now();
      if (now - this.lastPacketAt >= quietMs && now >= notBefore) break;
    }
    this.stale = false;
  }

  private async transact(name: InstructionName, args: Buffer): Promise<Ack> {
    this.write(encodePacket({ address: this.address, pid: Pid.command, payload: Buffer.concat([Buffer.from([Instruction[name]]), args]) }));
    const p = await this.next(name, (x) => x.pid === Pid.ack && x.payload.length >= 1);
    return { code: p.payload[0], data: p.payload.subarray(1), raw: encodePacket(p) };
  }

  private write(frame: Buffer): void {
    if (this.closedError) throw this.closedError;
    // A failed write surfaces as the port closing (its owner shuts us down) or as our timeout.
    try {
      const pending = this.writeBytes(frame);
      if (pending instanceof Promise) pending.catch(() => undefined);
    } catch {
      /* same: the link owner reports it */
    }
  }

  /** The next packet from our module that `accept`s; others are reported as unexpected. */
  private async next(name: InstructionName, accept: (p: R30xPacket) => boolean): Promise<R30xPacket> {
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      if (this.closedError) throw this.closedError;
      const p = this.inbox.shift();
      if (p) {
        if (p.address === this.address && accept(p)) return p;
        this.emit('unexpected', p);
        continue;
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        this.stale = true;
        this.staleSince = Date.now();
        throw new R30xTimeoutError(name, this.timeoutMs);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.wake = done;
      });
      this.wake = null;
    }
  }

  private onPacket(p: R30xPacket): void {
    this.lastPacketAt = Date.now();
    this.emit('packet', p);
    if (!this.active) {
      this.emit('unexpected', p);
      return;
    }
    this.inbox.push(p);
    this.wake?.();
  }
}

function u16(n: number): [number, number] {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw new RangeError(`${n} is not a 16-bit page/count`);
  return [n >> 8, n & 0xff];
}
