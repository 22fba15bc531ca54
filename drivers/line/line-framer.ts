// Lines terminated by CR, LF or CRLF (clocks use all three). Empty lines are skipped. A line
// longer than `maxLineBytes` is dropped up to the next terminator and reported once, so a device
// spewing bytes without a newline (wrong baud rate, broken cable) cannot grow memory.
//
// Not @serialport/parser-readline: it splits on a single delimiter and buffers without bound, and
// as a stream it emits lines asynchronously, which makes "drop the partial line at unplug" and
// "store each punch before reading the next" hard to guarantee. This framer is synchronous.
import { bytesToText, sampleOf, type FrameOutput, type Framer } from './framer.js';

const CR = 0x0d;
const LF = 0x0a;

export interface LineFramerOptions {
  /** Longest accepted line in bytes, terminator excluded (default 1024). */
  maxLineBytes?: number;
}

export class LineFramer implements Framer {
  private readonly maxLineBytes: number;
  private parts: Buffer[] = [];
  private length = 0;
  /** Inside an overlong line: discard until the next terminator. */
  private discarding = false;

  constructor(opts: LineFramerOptions = {}) {
    this.maxLineBytes = opts.maxLineBytes ?? 1024;
  }

  push(chunk: Buffer): FrameOutput[] {
    const out: FrameOutput[] = [];
    let start = 0;
    while (start < chunk.length) {
      const end = nextTerminator(chunk, start);
      const piece = chunk.subarray(start, end === -1 ? chunk.length : end);
      if (!this.discarding && piece.length > 0) this.append(piece, out);
      if (end === -1) break;
      this.endLine(out);
      start = end + 1;
    }
    return out;
  }

  reset(): FrameOutput | null {
    const partial = Buffer.concat(this.parts);
    this.clear();
    this.discarding = false;
    if (partial.length === 0) return null;
    return { kind: 'bad', raw: sampleOf(partial, this.maxLineBytes), reason: 'partial line cut off by disconnect' };
  }

  private append(piece: Buffer, out: FrameOutput[]): void {
    if (this.length + piece.length > this.maxLineBytes) {
      const head = Buffer.concat([...this.parts, piece]);
      out.push({ kind: 'bad', raw: sampleOf(head), reason: `line longer than ${this.maxLineBytes} bytes; discarded up to the next line end` });
      this.clear();
      this.discarding = true;
      return;
    }
    this.parts.push(Buffer.from(piece)); // copy: the port may reuse its read pool
    this.length += piece.length;
  }

  private endLine(out: FrameOutput[]): void {
    if (this.discarding) {
      this.discarding = false;
      return;
    }
    if (this.length === 0) return; // empty line, or the LF of a CRLF
    const text = bytesToText(Buffer.concat(this.parts));
    this.clear();
    out.push({ kind: 'frame', text, raw: text });
  }

  private clear(): void {
    this.parts = [];
    this.length = 0;
  }
}

function nextTerminator(chunk: Buffer, from: number): number {
  const lf = chunk.indexOf(LF, from);
  const cr = chunk.indexOf(CR, from);
  if (lf === -1) return cr;
  if (cr === -1) return lf;
  return Math.min(lf, cr);
}
