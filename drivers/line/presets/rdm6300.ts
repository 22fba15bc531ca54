// RDM6300 125 kHz RFID modules (EM4100 cards): each read is
//   STX(02) | 10 ASCII hex data | 2 ASCII hex checksum | ETX(03)
// where the checksum is the XOR of the five data bytes. The first data byte is the version /
// customer code, the last four the card number printed on the card (in decimal). The module
// repeats the frame while the card is held, hence the preset's default repeat suppression.
import type { VerifyMethod } from '../../../config/clocks.js';
import { sampleOf, type FrameOutput, type Framer } from '../framer.js';
import type { DecodeResult, LinePreset } from './types.js';

const STX = 0x02;
const ETX = 0x03;
const BODY_CHARS = 12;
/** Bytes tolerated between frames without a notice (some clones add CR LF after ETX). */
const IDLE_BYTES = new Set([0x00, 0x0a, 0x0d, 0x20]);
/** Noise between frames is reported in runs of at most this many bytes. */
const NOISE_REPORT_BYTES = 256;

export const RDM6300_DEFAULT_REPEAT_MS = 2000;

/** XOR of the five data bytes given as 10 hex chars. */
export function rdm6300Checksum(dataHex: string): number {
  let x = 0;
  for (let i = 0; i < 10; i += 2) x ^= parseInt(dataHex.slice(i, i + 2), 16);
  return x;
}

/** A complete frame (STX..ETX) for a 10-hex-char card id; used by the simulator and tests. */
export function encodeRdm6300Frame(cardHex: string): Buffer {
  if (!/^[0-9A-Fa-f]{10}$/.test(cardHex)) throw new RangeError(`RDM6300 card id must be 10 hex chars, got "${cardHex}"`);
  const data = cardHex.toUpperCase();
  const sum = rdm6300Checksum(data).toString(16).toUpperCase().padStart(2, '0');
  return Buffer.concat([Buffer.from([STX]), Buffer.from(data + sum, 'ascii'), Buffer.from([ETX])]);
}

/** STX..ETX framing that resynchronises on every STX; frame text is the 12 chars inside. */
export class Rdm6300Framer implements Framer {
  private body: number[] = [];
  private inFrame = false;
  private noise: number[] = [];
  private noiseCount = 0;

  push(chunk: Buffer): FrameOutput[] {
    const out: FrameOutput[] = [];
    for (const byte of chunk) {
      if (byte === STX) {
        this.flushNoise(out);
        if (this.inFrame) out.push(this.bad(this.body, true, false, 'truncated frame (STX before ETX)'));
        this.inFrame = true;
        this.body = [];
      } else if (!this.inFrame) {
        if (!IDLE_BYTES.has(byte)) this.addNoise(byte, out);
      } else if (byte === ETX) {
        this.inFrame = false;
        if (this.body.length === BODY_CHARS) {
          const text = Buffer.from(this.body).toString('latin1');
          out.push({ kind: 'frame', text, raw: frameHex(this.body) });
        } else {
          out.push(this.bad(this.body, true, true, `frame has ${this.body.length} chars between STX and ETX, expected ${BODY_CHARS}`));
        }
        this.body = [];
      } else {
        this.body.push(byte);
        if (this.body.length > BODY_CHARS) {
          out.push(this.bad(this.body, true, false, `no ETX after ${BODY_CHARS} chars`));
          this.inFrame = false;
          this.body = [];
        }
      }
    }
    return out;
  }

  reset(): FrameOutput | null {
    const out: FrameOutput[] = [];
    this.flushNoise(out);
    if (this.inFrame && this.body.length > 0) out.push(this.bad(this.body, true, false, 'partial frame cut off by disconnect'));
    this.inFrame = false;
    this.body = [];
    // Two notices at once are rare (noise then a cut frame); the frame one matters more.
    return out.at(-1) ?? null;
  }

  private addNoise(byte: number, out: FrameOutput[]): void {
    if (this.noise.length < 32) this.noise.push(byte);
    if (++this.noiseCount >= NOISE_REPORT_BYTES) this.flushNoise(out);
  }

  private flushNoise(out: FrameOutput[]): void {
    if (this.noiseCount === 0) return;
    out.push({ kind: 'bad', raw: Buffer.from(this.noise).toString('hex'), reason: `${this.noiseCount} bytes of noise outside a frame` });
    this.noise = [];
    this.noiseCount = 0;
  }

  private bad(body: number[], stx: boolean, etx: boolean, reason: string): FrameOutput {
    const bytes = [...(stx ? [STX] : []), ...body, ...(etx ? [ETX] : [])];
    return { kind: 'bad', raw: Buffer.from(bytes).toString('hex'), reason };
  }
}

function frameHex(body: number[]): string {
  return Buffer.from([STX, ...body, ETX]).toString('hex');
}

/** 12 frame chars -> card id (the 10 data hex chars, upper case) with checksum verified. */
export function decodeRdm6300(text: string, verify: VerifyMethod = 'card'): DecodeResult {
  if (!/^[0-9A-Fa-f]{12}$/.test(text)) return { ok: false, reason: `frame "${sampleOf(Buffer.from(text, 'latin1'))}" is not 12 hex chars` };
  const data = text.slice(0, 10).toUpperCase();
  const expected = rdm6300Checksum(data);
  const got = parseInt(text.slice(10), 16);
  if (got !== expected) return { ok: false, reason: `checksum ${hex2(got)} does not match XOR of data ${hex2(expected)}` };
  return {
    ok: true,
    value: {
      user: data,
      verify,
      // The decimal of the last 4 bytes is the number printed on EM4100 cards and key fobs.
      extra: { cardNumber: String(parseInt(data.slice(2), 16)), version: data.slice(0, 2) },
    },
  };
}

function hex2(n: number): string {
  return n.toString(16).toUpperCase().padStart(2, '0');
}

export function rdm6300Preset(opts: { verify?: VerifyMethod; repeatSuppressMs?: number } = {}): LinePreset {
  const verify = opts.verify ?? 'card';
  return {
    name: 'rdm6300',
    framer: new Rdm6300Framer(),
    decode: (text) => decodeRdm6300(text, verify),
    repeatSuppressMs: opts.repeatSuppressMs ?? RDM6300_DEFAULT_REPEAT_MS,
  };
}
