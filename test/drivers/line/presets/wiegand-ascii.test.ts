import t from 'tap';
import fc from 'fast-check';
import { decodeWiegandLine, wiegandAsciiPreset } from '../../../../drivers/line/presets/wiegand-ascii.js';
import { cutsArb, splitAt } from '../split-chunks.js';

t.test('card ids in decimal or hex, kept exactly', async (t) => {
  t.same(decodeWiegandLine('0012345678'), { ok: true, value: { user: '0012345678', verify: 'card' } });
  t.same(decodeWiegandLine(' 00AbC1 '), { ok: true, value: { user: '00AbC1', verify: 'card' } });
  t.same(decodeWiegandLine('42', 'pin'), { ok: true, value: { user: '42', verify: 'pin' } });
  for (const bad of ['', 'ID:123', '12 34', '1'.repeat(33), '12\x00']) {
    const r = decodeWiegandLine(bad);
    t.ok(!r.ok && /not 1-32 decimal or hex digits/.test(r.reason), JSON.stringify(bad));
  }
});

t.test('preset: CRLF lines, 2 s repeat window by default', async (t) => {
  const p = wiegandAsciiPreset();
  t.equal(p.repeatSuppressMs, 2000);
  t.equal(wiegandAsciiPreset({ repeatSuppressMs: 0 }).repeatSuppressMs, 0);
  const out = p.framer.push(Buffer.from('0001\r\n0002\r\n'));
  t.same(out.map((o) => (o.kind === 'frame' ? p.decode(o.text) : o)), [
    { ok: true, value: { user: '0001', verify: 'card' } },
    { ok: true, value: { user: '0002', verify: 'card' } },
  ]);
});

t.test('property: ids among noise lines, in any chunking, are found in order', async (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ id: fc.stringMatching(/^[0-9A-F]{4,20}$/), noise: fc.uint8Array({ maxLength: 300 }) }), { maxLength: 15 }),
      cutsArb(6000),
      (items, cuts) => {
        const p = wiegandAsciiPreset();
        // Noise is followed by a line end: a reader's garbage is terminated by its next CR LF.
        const stream = Buffer.concat(items.flatMap((i) => [Buffer.from(i.noise), Buffer.from(`\r\n${i.id}\r\n`)]));
        const ids = splitAt(stream, cuts)
          .flatMap((c) => p.framer.push(c))
          .flatMap((o) => (o.kind === 'frame' ? [p.decode(o.text)] : []))
          .flatMap((d) => (d.ok ? [d.value.user] : []));
        // Noise may itself look like a card id; the real ids are all there, in order, at their places.
        let k = 0;
        for (const id of ids) if (k < items.length && id === items[k].id) k++;
        return k === items.length;
      },
    ),
    { numRuns: 300 },
  );
  t.pass('ids found');
});
