import t from 'tap';
import fc from 'fast-check';
import type { FrameOutput } from '../../../drivers/line/framer.js';
import { LineFramer } from '../../../drivers/line/line-framer.js';
import { cutsArb, splitAt } from './split-chunks.js';

const texts = (out: FrameOutput[]) => out.filter((o) => o.kind === 'frame').map((o) => (o.kind === 'frame' ? o.text : ''));

t.test('CR, LF and CRLF all end a line; empty lines are skipped', async (t) => {
  const f = new LineFramer();
  t.same(texts(f.push(Buffer.from('a\rb\nc\r\nd\n\n\r\r\ne'))), ['a', 'b', 'c', 'd']);
  t.same(texts(f.push(Buffer.from('\r'))), ['e'], 'a line completes when its terminator arrives');
});

t.test('byte-at-a-time delivery gives the same lines', async (t) => {
  const f = new LineFramer();
  const got: string[] = [];
  for (const b of Buffer.from('12,2026-01-01 10:00:00,fp\r\n34\r\n')) got.push(...texts(f.push(Buffer.from([b]))));
  t.same(got, ['12,2026-01-01 10:00:00,fp', '34']);
});

t.test('an overlong line is dropped once and memory stays bounded', async (t) => {
  const f = new LineFramer({ maxLineBytes: 100 });
  const first = f.push(Buffer.alloc(150, 0x41));
  t.equal(first.length, 1);
  t.equal(first[0].kind, 'bad');
  if (first[0].kind === 'bad') {
    t.match(first[0].reason, /longer than 100 bytes/);
    t.ok(first[0].raw.length <= 64, 'only a sample of the garbage is kept');
  }
  for (let i = 0; i < 100; i++) t.same(f.push(Buffer.alloc(10_000, 0x42)), [], 'the rest of the run is discarded silently');
  t.equal(f.reset(), null, 'nothing is buffered while discarding');
  const f2 = new LineFramer({ maxLineBytes: 100 });
  f2.push(Buffer.alloc(500, 0x41));
  t.same(texts(f2.push(Buffer.from('tail\nnext\n'))), ['next'], 'the tail of the long line is not a frame; the next line is');
  t.same(texts(new LineFramer({ maxLineBytes: 4 }).push(Buffer.from('abcd\nabcde\nab\n'))), ['abcd', 'ab'], 'the limit is inclusive');
});

t.test('reset drops a partial line so it cannot merge with later bytes', async (t) => {
  const f = new LineFramer();
  t.same(f.push(Buffer.from('12')), []);
  const partial = f.reset();
  t.ok(partial && partial.kind === 'bad' && partial.raw === '12' && /disconnect/.test(partial.reason));
  t.same(texts(f.push(Buffer.from('34\n'))), ['34']);
  t.equal(f.reset(), null);
});

t.test('text decoding: UTF-8 when valid, Latin-1 otherwise', async (t) => {
  const f = new LineFramer();
  t.same(texts(f.push(Buffer.from('Zoë\n', 'utf8'))), ['Zoë']);
  t.same(texts(f.push(Buffer.from([0xff, 0x41, 0x0a]))), ['ÿA']);
});

// A line of bytes that are not terminators.
const lineBytes = (min: number, max: number) =>
  fc.uint8Array({ minLength: min, maxLength: max, size: 'max' }).map((a) => Buffer.from(a.map((b) => (b === 0x0a || b === 0x0d ? 0x20 : b))));
const terminator = fc.constantFrom('\n', '\r', '\r\n', '\n\n', '\r\n\r\n').map((s) => Buffer.from(s));

t.test('property: lines and overlong garbage in any chunking give exactly the good lines, in order', async (t) => {
  const max = 64;
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          fc.record({ good: fc.constant(true), bytes: lineBytes(1, max), end: terminator }),
          fc.record({ good: fc.constant(false), bytes: lineBytes(max + 1, 300), end: terminator }),
        ),
        { maxLength: 30 },
      ),
      cutsArb(),
      (segments, cuts) => {
        const stream = Buffer.concat(segments.flatMap((s) => [s.bytes, s.end]));
        const f = new LineFramer({ maxLineBytes: max });
        const out = splitAt(stream, cuts).flatMap((c) => f.push(c));
        const expected = segments.filter((s) => s.good).map((s) => new LineFramer({ maxLineBytes: max }).push(Buffer.concat([s.bytes, s.end])));
        const bad = out.filter((o) => o.kind === 'bad').length;
        return (
          JSON.stringify(out.filter((o) => o.kind === 'frame')) === JSON.stringify(expected.flat()) &&
          bad === segments.filter((s) => !s.good).length
        );
      },
    ),
    { numRuns: 300 },
  );
  t.pass('exactly the good lines');
});

t.test('property: random bytes never throw, frames are bounded, lines after garbage are found', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 3000, size: 'max' }), cutsArb(3100), (garbage, cuts) => {
      const f = new LineFramer({ maxLineBytes: 128 });
      const stream = Buffer.concat([Buffer.from(garbage), Buffer.from('\n1001\r\n1002\n')]);
      const out = splitAt(stream, cuts).flatMap((c) => f.push(c));
      const frames = texts(out);
      return (
        frames.every((s) => s.length > 0 && !/[\r\n]/.test(s) && Buffer.byteLength(s, 'latin1') <= 128 * 4) &&
        frames.slice(-2).join('|') === '1001|1002'
      );
    }),
    { numRuns: 300 },
  );
  t.pass('garbage tolerated');
});
