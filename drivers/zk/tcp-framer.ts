// Splits a TCP byte stream into ZK packets. The stream is `50 50 82 7D | uint32 LE length | packet`;
// chunks arrive split and merged arbitrarily. After garbage, a corrupted prefix or a packet whose
// checksum fails, the framer skips one byte and searches for the next magic, so a valid packet that
// follows garbage is always found. A declared length outside [8, maxPayload] is garbage too, which
// bounds memory. One risk remains: garbage that looks like a prefix with a plausible length makes
// the framer wait for bytes that never come; the client calls reset() when a reply times out.
//
// A damaged packet can also pass its checksum by borrowing bytes of its successor: a packet cut
// short by one byte whose last byte was 0x50 is completed, checksum and all, by the 0x50 that
// starts the next packet's magic. Taking it and moving on would swallow the neighbour. So a packet is trusted to end where it says only when the stream is
// in step there (the next bytes are a magic). When they are not, the framer backs up to the first
// magic inside the packet it just delivered and looks for a packet that straddles its end; packets
// lying wholly inside the delivered one are its data, not packets.
import { decodePacket, HEADER_SIZE, TCP_MAGIC, TCP_PREFIX_SIZE, type DecodedPacket } from './packet.js';

export interface TcpFramerOptions {
  /** Largest accepted packet (header + data). Default 256 KiB (a read-buffer chunk is < 64 KiB). */
  maxPayload?: number;
}

export interface TcpFramerStats {
  packets: number;
  /** Bytes skipped while searching for a valid frame. */
  skippedBytes: number;
  /** Frames discarded (bad length or bad checksum). */
  badFrames: number;
}

export class TcpFramer {
  private buf: Buffer = Buffer.alloc(0);
  /** Chunks held back while a large frame is still incomplete (concatenated once it is whole). */
  private pending: Buffer[] = [];
  private pendingLen = 0;
  /** Bytes `buf` must reach before the frame at its start can complete; 0 = unknown. */
  private need = 0;
  /**
   * Offset in `buf` where a delivered packet ended and too few bytes followed to tell whether the
   * stream is in step there; `buf` then starts at a magic inside that packet. 0 = nothing to check.
   */
  private checkAt = 0;
  /** Offset in `buf` of the end of a delivered packet the scan has backed into; 0 = none. */
  private deliveredEnd = 0;
  private readonly maxPayload: number;
  readonly stats: TcpFramerStats = { packets: 0, skippedBytes: 0, badFrames: 0 };

  constructor(opts: TcpFramerOptions = {}) {
    this.maxPayload = opts.maxPayload ?? 256 * 1024;
  }

  /** Feeds bytes; returns every complete, checksum-valid packet now available. Never throws. */
  push(chunk: Uint8Array): DecodedPacket[] {
    const out: DecodedPacket[] = [];
    if (this.need > 0 && this.buf.length + this.pendingLen + chunk.length < this.need) {
      this.pending.push(Buffer.from(chunk));
      this.pendingLen += chunk.length;
      return out;
    }
    this.buf = Buffer.concat([this.buf, ...this.pending, chunk]);
    this.pending = [];
    this.pendingLen = 0;
    this.need = 0;
    let pos = 0;
    let deliveredEnd = this.deliveredEnd;
    if (this.checkAt > 0) {
      const step = this.stepAt(this.checkAt);
      if (step === 'unknown') return out;
      if (step === 'in-step') pos = this.checkAt;
      else deliveredEnd = this.checkAt;
      this.checkAt = 0;
    }
    for (;;) {
      const start = this.findMagic(pos);
      if (start < 0) {
        // Keep a tail that could be the beginning of a magic split across chunks.
        const keep = Math.min(this.buf.length - pos, TCP_MAGIC.length - 1);
        const drop = this.buf.length - keep;
        this.stats.skippedBytes += drop - pos;
        pos = drop;
        break;
      }
      this.stats.skippedBytes += start - pos;
      pos = start;
      if (this.buf.length - pos < TCP_PREFIX_SIZE) break; // wait for the length
      const len = this.buf.readUInt32LE(pos + 4);
      if (len < HEADER_SIZE || len > this.maxPayload) {
        this.stats.badFrames++;
        this.stats.skippedBytes++;
        pos += 1;
        continue;
      }
      if (this.buf.length - pos < TCP_PREFIX_SIZE + len) {
        this.need = TCP_PREFIX_SIZE + len; // relative to `pos`, which becomes the buffer start
        break; // wait for the rest
      }
      const end = pos + TCP_PREFIX_SIZE + len;
      if (end <= deliveredEnd) {
        // Inside a packet already delivered: its data, whatever it looks like.
        this.stats.skippedBytes++;
        pos += 1;
        continue;
      }
      const pkt = decodePacket(this.buf.subarray(pos + TCP_PREFIX_SIZE, end));
      if (!pkt || !pkt.checksumOk) {
        this.stats.badFrames++;
        this.stats.skippedBytes++;
        pos += 1;
        continue;
      }
      out.push(pkt);
      this.stats.packets++;
      const step = this.stepAt(end);
      const inner = step === 'in-step' ? -1 : this.findMagicOrItsStart(pos + 1);
      if (inner < 0 || inner >= end) {
        pos = end;
        continue;
      }
      pos = inner;
      if (step === 'unknown') {
        this.checkAt = end - inner;
        break;
      }
      deliveredEnd = end;
    }
    this.deliveredEnd = Math.max(0, deliveredEnd - pos);
    this.buf = pos >= this.buf.length ? Buffer.alloc(0) : Buffer.from(this.buf.subarray(pos));
    return out;
  }

  /** Drops buffered bytes (after a reply timeout: the stream is out of step anyway). */
  reset(): void {
    this.stats.skippedBytes += this.buf.length + this.pendingLen;
    this.buf = Buffer.alloc(0);
    this.pending = [];
    this.pendingLen = 0;
    this.need = 0;
    this.checkAt = 0;
    this.deliveredEnd = 0;
  }

  /** Bytes held waiting for the rest of a frame. */
  get buffered(): number {
    return this.buf.length + this.pendingLen;
  }

  /** Whether the bytes at `at` start a magic ('in-step'), cannot ('out-of-step') or are too few to tell. */
  private stepAt(at: number): 'in-step' | 'out-of-step' | 'unknown' {
    const n = Math.min(this.buf.length - at, TCP_MAGIC.length);
    if (this.buf.compare(TCP_MAGIC, 0, n, at, at + n) !== 0) return 'out-of-step';
    return n === TCP_MAGIC.length ? 'in-step' : 'unknown';
  }

  private findMagic(from: number): number {
    return this.buf.indexOf(TCP_MAGIC, from);
  }

  /** The first magic at or after `from`, or else the start of a magic cut off by the end of `buf`. */
  private findMagicOrItsStart(from: number): number {
    const whole = this.findMagic(from);
    if (whole >= 0) return whole;
    for (let at = Math.max(from, this.buf.length - TCP_MAGIC.length + 1); at < this.buf.length; at++) {
      if (this.stepAt(at) === 'unknown') return at;
    }
    return -1;
  }
}
