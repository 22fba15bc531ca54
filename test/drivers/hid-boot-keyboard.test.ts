// Boot-keyboard decoding and code assembly for USB keyboard-wedge readers.
import t from 'tap';
import fc from 'fast-check';
import { BootKeyboardDecoder, CodeAssembler, type AssemblerOutput, type KeyStroke } from '../../drivers/hid/boot-keyboard.js';
import { reportsFor, type HidReportOptions } from '../../drivers/sim/hid-reports.js';

const r = (hex: string) => Buffer.from(hex.replace(/\s+/g, ''), 'hex');

/** Decodes reports and assembles codes; `at(i)` gives the arrival time of report i (default 0). */
function codes(reports: Buffer[], opts: ConstructorParameters<typeof BootKeyboardDecoder>[0] = {}, at: (i: number) => number = () => 0): string[] {
  const dec = new BootKeyboardDecoder(opts);
  const asm = new CodeAssembler({ interKeyTimeoutMs: 500 });
  const out: string[] = [];
  reports.forEach((rep, i) => {
    const res = dec.decode(rep);
    if (!res.ok) return;
    for (const s of res.strokes) for (const o of asm.push(s, at(i))) if (o.kind === 'code') out.push(o.code);
  });
  return out;
}

// "0012345678" + Enter as a typical 125 kHz EM4100 wedge sends it: one report per key press, one
// all-zero report per release. Hand-transcribed in that format (no USB capture hardware here).
const SEQ_0012345678 = [
  '0000270000000000', '0000000000000000', // 0
  '0000270000000000', '0000000000000000', // 0 again: press, release, press
  '00001e0000000000', '0000000000000000', // 1
  '00001f0000000000', '0000000000000000', // 2
  '0000200000000000', '0000000000000000', // 3
  '0000210000000000', '0000000000000000', // 4
  '0000220000000000', '0000000000000000', // 5
  '0000230000000000', '0000000000000000', // 6
  '0000240000000000', '0000000000000000', // 7
  '0000250000000000', '0000000000000000', // 8
  '0000280000000000', '0000000000000000', // Enter
].map(r);

t.test('hand-written vector "0012345678\\n" decodes to one code; generator agrees byte for byte', async (t) => {
  t.same(codes(SEQ_0012345678), ['0012345678']);
  t.same(reportsFor('0012345678').map((b) => b.toString('hex')), SEQ_0012345678.map((b) => b.toString('hex')));
});

t.test('doubled digits are two characters; a held key does not repeat', async (t) => {
  t.same(codes(reportsFor('1100223')), ['1100223']);
  // Key 1 held across three reports (rollover with key 2 pressed and released meanwhile).
  const held = ['00001e0000000000', '00001e0000000000', '00001e1f00000000', '00001e0000000000', '0000000000000000', '0000280000000000'].map(r);
  t.same(codes(held), ['12']);
  t.same(codes(reportsFor('99887766', { rollover: true })), ['99887766']);
  t.same(codes(reportsFor('A1b2C3', { rollover: true })), ['A1b2C3']);
});

t.test('shift (left and right) for letters and symbols', async (t) => {
  t.same(codes(reportsFor('AbC!@#')), ['AbC!@#']);
  t.same(codes(reportsFor('XyZ_+?', { shift: 'right' })), ['XyZ_+?']);
  t.same(codes([r('0200040000000000'), r('0000000000000000'), r('2000050000000000'), r('0000280000000000')]), ['AB']);
  t.same(codes(reportsFor('id-42;x.y/z')), ['id-42;x.y/z']);
});

t.test('keypad digits and terminators: Enter, keypad Enter, Tab', async (t) => {
  t.same(codes(reportsFor('0123456789', { keypadDigits: true })), ['0123456789']);
  t.same(codes(reportsFor('555', { terminator: 'keypad-enter' })), ['555']);
  t.same(codes(reportsFor('777', { terminator: 'tab' })), ['777']);
  t.same(codes(reportsFor('888', { terminator: 'none' })), [], 'unterminated: no code');
  t.same(codes([r('0000280000000000'), r('0000000000000000')]), [], 'bare Enter is no code');
});

t.test('report-ID prefix: auto-detected, or configured', async (t) => {
  const withId: HidReportOptions = { reportId: 1 };
  t.same(codes(reportsFor('4711', withId)), ['4711'], 'auto');
  t.same(codes(reportsFor('4711', withId), { reportId: 1 }), ['4711'], 'configured');
  t.same(codes(reportsFor('4711', { reportId: 2 }), { reportId: 1 }), [], 'other report IDs are not the keyboard');
  t.same(codes(reportsFor('4711', withId), { reportId: null }), [], '9-byte reports refused when IDs are off');
  const dec = new BootKeyboardDecoder({ reportId: 1 });
  t.match(dec.decode(r('0200040000000000ff')), { ok: false, reason: /report ID 2/ });
});

t.test('error rollover keeps the previous state; error codes are not keys', async (t) => {
  const seq = ['00001e0000000000', '0000010101010101', '00001e0000000000', '0000000000000000', '0000280000000000'].map(r);
  t.same(codes(seq), ['1'], 'phantom state does not re-trigger the held key');
  const dec = new BootKeyboardDecoder();
  t.same(dec.decode(r('0000020300000000')), { ok: true, strokes: [] });
  t.match(dec.decode(r('0000')), { ok: false });
  t.match(dec.decode(Buffer.alloc(64)), { ok: false });
});

t.test('assembler: inter-key timeout drops partial codes; repeat suppression', async (t) => {
  const asm = new CodeAssembler({ interKeyTimeoutMs: 100, repeatSuppressMs: 1000 });
  const ch = (c: string): KeyStroke => ({ kind: 'char', char: c });
  const enter: KeyStroke = { kind: 'terminator', key: 'enter' };
  const run = (steps: [KeyStroke, number][]) => steps.flatMap(([s, at]) => asm.push(s, at));
  let out: AssemblerOutput[] = run([[ch('1'), 0], [ch('2'), 50], [ch('3'), 300], [enter, 350]]);
  t.same(out, [
    { kind: 'dropped', partial: '12', reason: 'timeout' },
    { kind: 'code', code: '3', terminator: 'enter' },
  ]);
  out = run([[ch('3'), 400], [enter, 410]]);
  t.same(out, [{ kind: 'suppressed', code: '3' }], 'same code within the window');
  out = run([[ch('3'), 2000], [enter, 2010]]);
  t.same(out, [{ kind: 'code', code: '3', terminator: 'enter' }], 'after the window: a new punch');
  t.same(asm.push(ch('9'), 3000), []);
  t.same(asm.expire(3050), []);
  t.same(asm.expire(3101), [{ kind: 'dropped', partial: '9', reason: 'timeout' }]);
  const long = new CodeAssembler({ interKeyTimeoutMs: 100, maxLength: 4 });
  t.match(
    [...'12345'].flatMap((c) => long.push(ch(c), 0)),
    [{ kind: 'dropped', reason: 'too-long' }],
  );
});

t.test('property: random reports of random lengths never throw', async () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.uint8Array({ minLength: 8, maxLength: 8 }), fc.uint8Array({ minLength: 9, maxLength: 9 }), fc.uint8Array({ maxLength: 70 })), { maxLength: 60 }),
      fc.constantFrom<'auto' | number | null>('auto', 1, null),
      (reports, reportId) => {
        const dec = new BootKeyboardDecoder({ reportId });
        const asm = new CodeAssembler({ interKeyTimeoutMs: 10, repeatSuppressMs: 5 });
        let at = 0;
        for (const rep of reports) {
          const res = dec.decode(rep);
          if (res.ok) for (const s of res.strokes) asm.push(s, (at += 3));
        }
        return true;
      },
    ),
    { numRuns: 500 },
  );
});

t.test('property: a code after random garbage reports (and a pause) is read exactly', async () => {
  fc.assert(
    fc.property(
      fc.stringMatching(/^[0-9A-Za-z]{1,20}$/),
      fc.array(fc.uint8Array({ minLength: 8, maxLength: 8 }), { maxLength: 10 }),
      fc.boolean(),
      fc.boolean(),
      (code, garbage, rollover, withId) => {
        // Garbage, an all-keys-up report (what a reader sends when idle), a pause longer than the
        // inter-key timeout (so typed garbage is dropped as incomplete), then the code.
        const idle = Buffer.alloc(8);
        const opts: HidReportOptions = { rollover, reportId: withId ? 1 : undefined };
        const pre = [...garbage.map((g) => Buffer.from(g)), idle].map((b) => (withId ? Buffer.concat([Buffer.from([1]), b]) : b));
        const got = codes([...pre, ...reportsFor(code, opts)], {}, (i) => (i < pre.length ? 0 : 1000));
        return got.at(-1) === code;
      },
    ),
    { numRuns: 300 },
  );
});
