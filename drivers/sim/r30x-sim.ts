// A simulated R30x fingerprint module speaking the real packet protocol over a byte stream:
// the peer end of a socat pty pair (tests, demo) or a MockBinding port. A "finger" is a template
// (fingerTemplate(name) gives every named finger stable bytes); the sensor captures whatever finger
// is placed, Img2Tz turns the image into that template, Search compares templates byte for byte.
import { createHash, randomBytes } from 'node:crypto';
import { SerialPort } from 'serialport';
import { plugSimDevice } from '../serial/sim-binding.js';
import { Confirm, Instruction } from '../r30x/codes.js';
import { DEFAULT_ADDRESS, encodePacket, Pid, type R30xPacket } from '../r30x/packet.js';
import { R30xPacketParser, type BadFrame } from '../r30x/packet-parser.js';

export const SIM_TEMPLATE_BYTES = 512;

/** Stable template bytes for a named finger ("alice-right-index"). */
export function fingerTemplate(name: string, size = SIM_TEMPLATE_BYTES): Buffer {
  const out = Buffer.alloc(size);
  for (let off = 0, n = 0; off < size; n++) off += createHash('sha256').update(`${name}/${n}`).digest().copy(out, off);
  return out;
}

/** The device side of a serial link: a pty peer, or the device end of a `sim:` port. */
export interface SimWire {
  send(data: Buffer): void;
  onReceive(listener: (data: Buffer) => void): void;
  close(): Promise<void>;
}

export interface R30xSimOptions {
  address?: number;
  /** When set, every command but VfyPwd answers 0x21 until the password was verified. */
  password?: number;
  capacity?: number;
  /** 0..3 → data packets of 32, 64, 128, 256 bytes. */
  packetSizeCode?: 0 | 1 | 2 | 3;
  securityLevel?: number;
}

const INSTRUCTION_NAMES = new Map<number, string>(Object.entries(Instruction).map(([k, v]) => [v, k]));

export class R30xSimulator {
  /** Library: page → template bytes. */
  readonly library = new Map<number, Buffer>();
  /** How many times each instruction was received (by name). */
  readonly received = new Map<string, number>();
  /** Stop answering (a hung module); packets are still read. */
  silent = false;
  readonly address: number;
  readonly capacity: number;
  private readonly password: number | undefined;
  private readonly packetSizeCode: number;
  private readonly securityLevel: number;
  private verified: boolean;
  private finger: { template: Buffer; score: number } | null = null;
  private image: Buffer | null = null;
  /** Match score the captured image will get (the sim has no real matcher). */
  private imageScore = 0;
  private readonly charBuffers = new Map<number, Buffer>();
  private downloading: { buffer: number; parts: Buffer[] } | null = null;
  private corruptReplies = 0;
  private readonly delays: number[] = [];
  private readonly parser = new R30xPacketParser();
  private closed = false;

  constructor(
    private readonly wire: SimWire,
    opts: R30xSimOptions = {},
  ) {
    this.address = opts.address ?? DEFAULT_ADDRESS;
    this.password = opts.password;
    this.verified = opts.password === undefined;
    this.capacity = opts.capacity ?? 1000;
    this.packetSizeCode = opts.packetSizeCode ?? 2;
    this.securityLevel = opts.securityLevel ?? 3;
    this.parser.on('data', (p: R30xPacket) => this.onPacket(p));
    this.parser.on('bad-frame', (b: BadFrame) => {
      // A real module answers a command whose checksum is wrong with "packet receive error".
      if (b.reason === 'checksum') this.reply(Confirm.packetReceiveError);
    });
    wire.onReceive((chunk) => {
      if (!this.closed) this.parser.write(chunk);
    });
  }

  /** Opens `path` (the peer end of a socat pty pair) and simulates a module on it. */
  static async open(path: string, opts: R30xSimOptions & { baudRate?: number } = {}): Promise<R30xSimulator> {
    const port = new SerialPort({ path, baudRate: opts.baudRate ?? 57600, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
    port.on('error', () => undefined); // the pair vanishing mid-test is an expected event
    const wire: SimWire = {
      send: (d) => void port.write(d),
      onReceive: (l) => void port.on('data', l),
      close: () => new Promise<void>((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve())),
    };
    return new R30xSimulator(wire, opts);
  }

  /** Simulates a module behind the in-process `sim:<name>` port (demo mode without socat). */
  static onSimPort(path: string, opts: R30xSimOptions = {}): R30xSimulator {
    const end = plugSimDevice(path);
    let stop: (() => void) | null = null;
    const wire: SimWire = {
      send: (d) => void end.send(d),
      onReceive: (l) => void (stop = end.onHostWrite(l)),
      close: async () => stop?.(),
    };
    return new R30xSimulator(wire, opts);
  }

  /** Puts the named finger's template in the library at `page`. */
  enroll(page: number, fingerName: string): void {
    this.library.set(page, fingerTemplate(fingerName));
  }

  /** Places a named finger (or an unknown one) on the sensor. */
  placeFinger(fingerName: string | 'unknown', score = 120): void {
    this.finger = { template: fingerName === 'unknown' ? randomBytes(SIM_TEMPLATE_BYTES) : fingerTemplate(fingerName), score };
  }

  liftFinger(): void {
    this.finger = null;
  }

  /** Writes raw bytes to the host (line noise). */
  injectGarbage(bytes: Buffer): void {
    this.wire.send(bytes);
  }

  /** The next replies are sent late, one delay (ms) per reply (a slow or overloaded module). */
  delayNextReplies(...delaysMs: number[]): void {
    this.delays.push(...delaysMs);
  }

  /** The next `n` replies go out with a wrong checksum. */
  corruptNextReplies(n: number): void {
    this.corruptReplies += n;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.parser.destroy();
    await this.wire.close();
  }

  private count(name: string): void {
    this.received.set(name, (this.received.get(name) ?? 0) + 1);
  }

  private onPacket(p: R30xPacket): void {
    if (p.address !== this.address) return; // not for us: a real module stays quiet
    if (p.pid === Pid.data || p.pid === Pid.endData) return this.onData(p);
    if (p.pid !== Pid.command || p.payload.length < 1) return;
    const code = p.payload[0];
    const args = p.payload.subarray(1);
    const name = INSTRUCTION_NAMES.get(code) ?? `0x${code.toString(16)}`;
    this.count(name);
    if (!this.verified && code !== Instruction.vfyPwd) return this.reply(Confirm.mustVerifyPassword);
    this.execute(code, args);
  }

  private execute(code: number, a: Buffer): void {
    const page = (at: number) => a.readUInt16BE(at);
    switch (code) {
      case Instruction.vfyPwd: {
        if (a.length < 4) return this.reply(Confirm.packetReceiveError);
        const ok = this.password === undefined || a.readUInt32BE(0) === this.password;
        if (ok) this.verified = true;
        return this.reply(ok ? Confirm.ok : Confirm.wrongPassword);
      }
      case Instruction.genImg:
        if (!this.finger) return this.reply(Confirm.noFinger);
        this.image = this.finger.template;
        this.imageScore = this.finger.score;
        return this.reply(Confirm.ok);
      case Instruction.img2Tz:
        if (!this.image) return this.reply(Confirm.noValidImage);
        this.charBuffers.set(a[0], this.image);
        return this.reply(Confirm.ok);
      case Instruction.search:
      case Instruction.highSpeedSearch: {
        const probe = this.charBuffers.get(a[0]);
        if (!probe || a.length < 5) return this.reply(Confirm.noValidImage);
        const start = page(1);
        const end = Math.min(start + page(3), this.capacity);
        for (let pg = start; pg < end; pg++) {
          if (!this.library.get(pg)?.equals(probe)) continue;
          const d = Buffer.alloc(4);
          d.writeUInt16BE(pg, 0);
          d.writeUInt16BE(Math.min(this.imageScore, 0xffff), 2);
          return this.reply(Confirm.ok, d);
        }
        return this.reply(Confirm.notFound, Buffer.alloc(4));
      }
      case Instruction.regModel: {
        const one = this.charBuffers.get(1);
        const two = this.charBuffers.get(2);
        if (!one || !two || !one.equals(two)) return this.reply(Confirm.combineFailed);
        return this.reply(Confirm.ok);
      }
      case Instruction.store: {
        const tpl = this.charBuffers.get(a[0]);
        if (page(1) >= this.capacity) return this.reply(Confirm.pageOutOfRange);
        if (!tpl) return this.reply(Confirm.readTemplateFailed);
        this.library.set(page(1), Buffer.from(tpl));
        return this.reply(Confirm.ok);
      }
      case Instruction.loadChar: {
        if (page(1) >= this.capacity) return this.reply(Confirm.pageOutOfRange);
        const tpl = this.library.get(page(1));
        if (!tpl) return this.reply(Confirm.readTemplateFailed);
        this.charBuffers.set(a[0], tpl);
        return this.reply(Confirm.ok);
      }
      case Instruction.upChar: {
        const tpl = this.charBuffers.get(a[0]);
        if (!tpl) return this.reply(Confirm.uploadTemplateFailed);
        this.reply(Confirm.ok);
        const size = 32 << this.packetSizeCode;
        for (let off = 0; off < tpl.length; off += size) {
          const last = off + size >= tpl.length;
          this.send(last ? Pid.endData : Pid.data, tpl.subarray(off, off + size));
        }
        return;
      }
      case Instruction.downChar:
        this.downloading = { buffer: a[0], parts: [] };
        return this.reply(Confirm.ok);
      case Instruction.deleteChar: {
        if (page(0) + page(2) > this.capacity) return this.reply(Confirm.deleteFailed);
        for (let pg = page(0); pg < page(0) + page(2); pg++) this.library.delete(pg);
        return this.reply(Confirm.ok);
      }
      case Instruction.empty:
        this.library.clear();
        return this.reply(Confirm.ok);
      case Instruction.readSysPara: {
        const d = Buffer.alloc(16);
        d.writeUInt16BE(0x0000, 0);
        d.writeUInt16BE(0x0009, 2);
        d.writeUInt16BE(this.capacity, 4);
        d.writeUInt16BE(this.securityLevel, 6);
        d.writeUInt32BE(this.address, 8);
        d.writeUInt16BE(this.packetSizeCode, 12);
        d.writeUInt16BE(6, 14); // 6 × 9600 = 57600 baud
        return this.reply(Confirm.ok, d);
      }
      case Instruction.templateNum:
        return this.reply(Confirm.ok, Buffer.from([this.library.size >> 8, this.library.size & 0xff]));
      case Instruction.readIndexTable: {
        const idx = a[0] ?? 0;
        const bits = Buffer.alloc(32);
        for (const pg of this.library.keys()) {
          const rel = pg - idx * 256;
          if (rel >= 0 && rel < 256) bits[rel >> 3] |= 1 << (rel & 7);
        }
        return this.reply(Confirm.ok, bits);
      }
      default:
        return this.reply(Confirm.undefinedError);
    }
  }

  private onData(p: R30xPacket): void {
    if (!this.downloading) return;
    this.downloading.parts.push(p.payload);
    if (p.pid === Pid.endData) {
      this.charBuffers.set(this.downloading.buffer, Buffer.concat(this.downloading.parts));
      this.downloading = null;
    }
  }

  private reply(code: number, data: Buffer = Buffer.alloc(0)): void {
    this.send(Pid.ack, Buffer.concat([Buffer.from([code]), data]));
  }

  private send(pid: number, payload: Buffer): void {
    if (this.silent) return;
    const frame = encodePacket({ address: this.address, pid, payload });
    if (this.corruptReplies > 0) {
      this.corruptReplies--;
      frame[frame.length - 1] ^= 0xff;
    }
    const delay = this.delays.shift();
    if (delay !== undefined) {
      setTimeout(() => !this.closed && this.wire.send(frame), delay);
      return;
    }
    this.wire.send(frame);
  }
}
