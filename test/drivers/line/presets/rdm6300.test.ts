import t from 'tap';
import fc from 'fast-check';
import type { FrameOutput } from '../../../../drivers/line/framer.js';
import { decodeRdm6300, encodeRdm6300Frame, rdm6300Checksum, Rdm6300Framer } from '../../../../drivers/line/presets/rdm6300.js';
import { RepeatSuppressor } from '../../../../drivers/line/repeat-suppressor.js';
import { cutsArb, splitAt } from '../split-chunks.js';

const STX = Buffer.from([0x02]);
const ETX = Buffer.from([0x03]);
const frame = (body: string) => Buffer.concat([STX, Buffer.from(body, 'latin1'), ETX]);

/** Frames -> decoded card ids (good ones only), as the driver sees them. */
function cards(out: FrameOutput[]): string[] {
  return out.flatMap((o) => {
    if (o.kind !== 'frame') return [];
    const d = decodeRdm6300(o.text);
    return d.ok ? [d.value.user] : [];
  });
}

t.test('checksum is the XOR of the five data bytes', async (t) => {
  t.equal(rdm6300Checksum('1A0047F3C2'), 0x6c);
  t.equal(rdm6300Checksum('0000000000'), 0);
  t.same(encodeRdm6300Frame('1a0047f3c2'), frame('1A0047F3C26C'));
  t.throws(() => encodeRdm6300Frame('12345'), RangeError);
});

t.test('decoding: card id, printed number, bad checksum, non-hex', async (t) => {
  t.same(decodeRdm6300('1A0047F3C26C'), {
    ok: true,
    value: { user: '1A0047F3C2', verify: 'card', extra: { cardNumber: '4715458', version: '1A' } },
  });
  t.same(decodeRdm6300('1a0047f3c26c', 'fingerprint'), {
    ok: true,
    value: { user: '1A0047F3C2', verify: 'fingerprint', extra: { cardNumber: '4715458', version: '1A' } },
  }, 'lower-case hex accepted, id normalised to the printed upper case');
  const bad = decodeRdm6300('1A0047F3C26D');
  t.ok(!bad.ok && /checksum 6D does not match XOR of data 6C/.test(bad.reason));
  const nothex = decodeRdm6300('1A0047F3CZ6C');
  t.ok(!nothex.ok && /not 12 hex/.test(nothex.reason));
});

t.test('framing: STX resyncs, noise is reported, idle bytes are tolerated', async (t) => {
  const f = new Rdm6300Framer();
  const good = encodeRdm6300Frame('1A0047F3C2');
  const out = f.push(Buffer.concat([Buffer.from('xyz'), good, Buffer.from('\r\n'), STX, Buffer.from('1A00'), good, frame('1A00'), good]));
  t.same(cards(out), ['1A0047F3C2', '1A0047F3C2', '1A0047F3C2']);
  const bad = out.filter((o) => o.kind === 'bad');
  t.equal(bad.length, 3, 'noise, truncated frame, short frame');
  t.match(bad.map((o) => (o.kind === 'bad' ? o.reason : '')), [/3 bytes of noise/, /truncated frame/, /4 chars between STX and ETX/]);
  t.same(cards(new Rdm6300Framer().push(Buffer.concat([STX, Buffer.alloc(40, 0x41), good]))), ['1A0047F3C2'], 'overlong frame then a good one');
  const g = new Rdm6300Framer();
  g.push(good.subarray(0, 6));
  const cut = g.reset();
  t.ok(cut?.kind === 'bad' && /disconnect/.test(cut.reason), 'reset drops a partial frame');
  t.same(cards(g.push(good.subarray(6))), [], 'its tail does not complete a frame');
  t.same(cards(g.push(good)), ['1A0047F3C2']);
});

t.test('repeat suppression: a held card is one punch, the window slides', async (t) => {
  let now = 0;
  const s = new RepeatSuppressor(2000, () => now);
  t.equal(s.isRepeat('A'), false);
  s.stored('A');
  for (now = 100; now < 10_000; now += 100) t.equal(s.isRepeat('A'), true, `held at ${now}`);
  t.equal(s.isRepeat('B'), false, 'another card is not a repeat');
  now += 2000;
  t.equal(s.isRepeat('A'), false, 'taken away for the window: a new punch');
  const unstored = new RepeatSuppressor(2000, () => now);
  t.equal(unstored.isRepeat('C'), false);
  t.equal(unstored.isRepeat('C'), false, 'a card whose store failed is not suppressed');
  t.equal(new RepeatSuppressor(0, () => now).isRepeat('A'), false, 'window 0 never suppresses');
  const back = new RepeatSuppressor(2000, () => now);
  back.stored('D');
  now -= 60_000;
  t.equal(back.isRepeat('D'), false, 'a clock stepping backwards never hides a punch');
});

const cardArb = fc.stringMatching(/^[0-9A-F]{10}$/);

t.test('property: valid frames among noise, in any chunking, are found exactly', async (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ card: cardArb, noise: fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a.filter((b) => b !== 0x02))) }), { maxLength: 20 }),
      cutsArb(1500),
      (items, cuts) => {
        const stream = Buffer.concat(items.flatMap((i) => [i.noise, encodeRdm6300Frame(i.card)]));
        const f = new Rdm6300Framer();
        const got = cards(splitAt(stream, cuts).flatMap((c) => f.push(c)));
        return JSON.stringify(got) === JSON.stringify(items.map((i) => i.card));
      },
    ),
    { numRuns: 300 },
  );
  t.pass('exactly the frames');
});

t.test('property: random bytes, truncated and corrupted frames never throw or mis-decode', async (t) => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 600, size: 'max' }),
      cardArb,
      fc.integer({ min: 0, max: 13 }),
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 1, max: 13 }),
      cutsArb(700),
      (garbage, card, pos, value, truncateAt, cuts) => {
        const good = encodeRdm6300Frame(card);
        const corrupted = Buffer.from(good);
        corrupted[pos] = value;
        const stream = Buffer.concat([Buffer.from(garbage), good.subarray(0, truncateAt), corrupted, good, good]);
        const f = new Rdm6300Framer();
        const out = splitAt(stream, cuts).flatMap((c) => f.push(c));
        const got = cards(out);
        // The two intact frames at the end are always found; the corrupted one decodes, if at
        // all, to the same card (e.g. a hex digit changed only in case), never to another id.
        // (Random garbage forming a frame with a valid checksum is too unlikely to matter.)
        return got.slice(-2).join() === [card, card].join() && got.slice(0, -2).every((c) => c === card);
      },
    ),
    { numRuns: 500 },
  );
  t.pass('robust');
});
