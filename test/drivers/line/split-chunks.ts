// fast-check helpers: a byte stream cut into arbitrary chunks, as a serial port delivers it.
import fc from 'fast-check';

/** Cuts `buf` at the given positions (any order, duplicates and out-of-range allowed). */
export function splitAt(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => Math.min(buf.length, Math.max(0, c))))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of [...points, buf.length]) {
    if (p > prev) out.push(buf.subarray(prev, p));
    prev = p;
  }
  return out;
}

/** Arbitrary cut positions for a stream of up to `max` bytes. */
export const cutsArb = (max = 4096) => fc.array(fc.integer({ min: 0, max }), { maxLength: 40 });
