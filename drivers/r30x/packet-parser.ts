// Splits the byte stream from an R30x module into checked packets.
//
// Why not @serialport/parser-packet-length: it reads the length field little-endian only (R30x is
// big-endian), it pushes whatever it buffered when the length is over `maxLen` (garbage would reach
// the client as a "packet"), it does not verify checksums, and it waits forever on a partial frame.
// This small Transform resyncs on EF 01 after garbage, caps the length, bounds the wait for the rest
// of a frame (stallMs) and verifies the checksum of every packet before it is pushed.
//
// A checksum is 16 bits, so a false frame can pass it: line noise ending in EF 01 whose "length"
// runs into the real reply after it, with a sum that happens to match. Delivered, it would stand in
// for the real reply (a wrong match, a wrong page id) and swallow it. Such a frame always overlaps
// a real packet that starts inside it and ends past it, and two overlapping packets cannot both be
// real, so the parser holds a frame back while a packet starting inside it is still arriving. If
// that one is whole and valid it wins (noise comes before replies, not inside them) and the outer
// frame is dropped as `overlap`; otherwise the outer frame is delivered. A packet lying wholly
// inside another is its payload and never counts. The hold is rare, an EF 01 inside a frame, and
// bounded by stallMs.
import { Transform, type TransformCallback } from 'node:stream';
import { decodePacket, MAX_PAYLOAD, Pid, PREFIX_BYTES, R30xFrameError, type R30xPacket } from './packet.js';

export interface BadFrame {
  reason: 'garbage' | 'header' | 'length' | 'checksum' | 'pid' | 'stall' | 'short' | 'overlap';
  /** The dropped bytes (hex), at most 64 bytes of them. */
  hex: string;
}

export interface R30xPacketParserOptions {
  /** A started frame whose remaining bytes do not arrive within this time is dropped (resync). */
  stallMs?: number;
}

const KNOWN_PIDS: ReadonlySet<number> = new Set(Object.values(Pid));
/** overlappingPacket(): a packet starting inside the frame is still arriving. */
const UNDECIDED = -2;

/**
 * Readable side is in object mode and yields R30xPacket. Emits `bad-frame` (BadFrame) for every run
 * of bytes it had to drop; those never become packets.
 */
export class R30xPacketParser extends Transform {
  private buf: Buffer = Buffer.alloc(0);
  private stallTimer: NodeJS.Timeout | null = null;
  private readonly stallMs: number;

  constructor(opts: R30xPacketParserOptions = {}) {
    super({ readableObjectMode: true });
    this.stallMs = opts.stallMs ?? 250;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.clearStall();
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : Buffer.from(chunk);
    this.drain();
    this.armStall();
    cb();
  }

  override _flush(cb: TransformCallback): void {
    this.clearStall();
    // End of stream: an unfinished frame will never complete, but a whole packet may hide behind
    // its false header, so resync byte by byte instead of dropping everything.
    this.drain(true);
    while (this.buf.length) {
      this.discard(1, 'short');
      this.drain(true);
    }
    cb();
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    this.clearStall();
    cb(err);
  }

  /** Pushes every packet at the head of `buf`. `settled`: no more bytes are coming for now. */
  private drain(settled = false): void {
    for (;;) {
      const start = this.findHeader();
      if (start < 0) {
        // Keep a trailing EF: it may be the first half of the next header.
        const keep = this.buf.length && this.buf[this.buf.length - 1] === 0xef ? 1 : 0;
        if (this.buf.length - keep > 0) this.discard(this.buf.length - keep, 'garbage');
        return;
      }
      if (start > 0) this.discard(start, 'garbage');
      if (this.buf.length < PREFIX_BYTES) return;
      const pid = this.buf[6];
      const length = this.buf.readUInt16BE(7);
      if (!KNOWN_PIDS.has(pid)) {
        this.discard(1, 'pid');
        continue;
      }
      if (length < 2 || length - 2 > MAX_PAYLOAD) {
        this.discard(1, 'length');
        continue;
      }
      const total = PREFIX_BYTES + length;
      if (this.buf.length < total) return;
      let packet: R30xPacket;
      try {
        packet = decodePacket(this.buf.subarray(0, total));
      } catch (err) {
        // Drop only the first byte: a real packet may start inside what looked like this frame.
        this.discard(1, err instanceof R30xFrameError ? err.reason : 'checksum');
        continue;
      }
      const inner = this.overlappingPacket(total, settled);
      if (inner === UNDECIDED) return;
      if (inner > 0) {
        this.discard(inner, 'overlap');
        continue;
      }
      this.buf = this.buf.subarray(total);
      this.push(packet);
    }
  }

  /**
   * Where a whole, valid packet starts inside the valid frame `buf[0, total)` and runs past its
   * end; -1 if none does; UNDECIDED while such a packet may still be arriving (unless `settled`).
   */
  private overlappingPacket(total: number, settled: boolean): number {
    for (let i = 1; i < total; i++) {
      if (this.buf[i] !== 0xef) continue;
      const avail = this.buf.length - i;
      if (avail >= 2 && this.buf[i + 1] !== 0x01) continue;
      if (avail >= 7 && !KNOWN_PIDS.has(this.buf[i + 6])) continue;
      if (avail < PREFIX_BYTES) {
        if (settled) continue;
        return UNDECIDED;
      }
      const length = this.buf.readUInt16BE(i + 7);
      const end = i + PREFIX_BYTES + length;
      if (length < 2 || length - 2 > MAX_PAYLOAD || end <= total) continue;
      if (end > this.buf.length) {
        if (settled) continue;
        return UNDECIDED;
      }
      try {
        decodePacket(this.buf.subarray(i, end));
        return i;
      } catch {
        // Not a packet: the frame stands.
      }
    }
    return -1;
  }

  private findHeader(): number {
    for (let i = 0; i + 1 < this.buf.length; i++) if (this.buf[i] === 0xef && this.buf[i + 1] === 0x01) return i;
    return -1;
  }

  private discard(n: number, reason: BadFrame['reason']): void {
    const dropped = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    this.emit('bad-frame', { reason, hex: dropped.subarray(0, 64).toString('hex') } satisfies BadFrame);
  }

  private armStall(): void {
    if (!this.buf.length) return;
    this.stallTimer = setTimeout(() => {
      this.stallTimer = null;
      if (!this.buf.length || this.destroyed) return;
      // Quiet for stallMs. A whole frame held back for a packet starting inside it goes out now;
      // otherwise the rest of this frame never came: it was a false header (or a cut packet), so
      // resync past it.
      const held = this.buf.length;
      this.drain(true);
      if (this.buf.length === held) {
        this.discard(1, 'stall');
        this.drain();
      }
      this.armStall();
    }, this.stallMs);
    this.stallTimer.unref?.();
  }

  private clearStall(): void {
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = null;
  }
}
