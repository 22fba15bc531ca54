import t from 'tap';
import fc from 'fast-check';
import {
  AttlogFormatError,
  decodeAttlogBuffer,
  decodePackedTime,
  decodeRealtimeAttlog,
  decodeRecord,
  encodePackedTime,
  encodeRealtimeAttlog,
  encodeRecord,
  isValidLocal,
  verifyFromZk,
  type RecordSize,
} from '../../drivers/zk/attlog.js';

const T = { y: 2026, mo: 12, d: 4, h: 8, mi: 30, s: 15 };
const PACKED = 865413015; // pyzk __encode_time(datetime(2026, 12, 4, 8, 30, 15))

t.test('packed time: known value both ways', async (t) => {
  t.equal(encodePackedTime(T), PACKED);
  t.same(decodePackedTime(PACKED), T);
  t.equal(encodePackedTime({ y: 2019, mo: 7, d: 1, h: 0, mi: 0, s: 0 }), 626745600);
});

const validParts = fc
  .record({
    y: fc.integer({ min: 2000, max: 2099 }),
    mo: fc.integer({ min: 1, max: 12 }),
    d: fc.integer({ min: 1, max: 31 }),
    h: fc.integer({ min: 0, max: 23 }),
    mi: fc.integer({ min: 0, max: 59 }),
    s: fc.integer({ min: 0, max: 59 }),
  });

t.test('packed time: round trip over the whole range', async (t) => {
  fc.assert(fc.property(validParts, (p) => JSON.stringify(decodePackedTime(encodePackedTime(p))) === JSON.stringify(p)));
  fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => {
    const p = decodePackedTime(n);
    return p.y >= 2000 && p.mo >= 1 && p.mo <= 12 && p.d >= 1 && p.d <= 31;
  }));
  t.pass('round trips hold');
});

t.test('8-byte layout: uid, verify, time, state', async (t) => {
  const b = Buffer.alloc(8);
  b.writeUInt16LE(513, 0);
  b[2] = 1;
  b.writeUInt32LE(PACKED, 3);
  b[7] = 1;
  const r = decodeRecord(b, 8);
  t.equal(r.user, '513');
  t.equal(r.uid, 513);
  t.equal(r.verifyCode, 1);
  t.equal(r.state, 1);
  t.same(r.time, T);
  t.same(encodeRecord(r, 8), b);
});

t.test('16-byte layout: numeric user id u32', async (t) => {
  const b = Buffer.alloc(16);
  b.writeUInt32LE(4000000001, 0);
  b.writeUInt32LE(PACKED, 4);
  b[8] = 2;
  b[9] = 0;
  b.writeUInt32LE(77, 12);
  const r = decodeRecord(b, 16);
  t.equal(r.user, '4000000001');
  t.equal(r.verifyCode, 2);
  t.equal(r.workcode, 77);
  t.same(r.time, T);
});

function record40(user: Buffer, size: 40 | 49): Buffer {
  const b = Buffer.alloc(size);
  b.writeUInt16LE(7, 0);
  user.copy(b, 2, 0, 24);
  b[26] = 15;
  b.writeUInt32LE(PACKED, 27);
  b[31] = 1;
  b.fill(0xff, 36, 37); // the "fixed" bytes as seen in captures
  if (size === 49) b.writeUInt32LE(12345, 40);
  return b;
}

t.test('40- and 49-byte layouts keep long user ids whole', async (t) => {
  for (const size of [40, 49] as const) {
    const r = decodeRecord(record40(Buffer.from('STUDENT-2026-0042\0', 'latin1'), size), size);
    t.equal(r.user, 'STUDENT-2026-0042', `${size}: 17 characters, none lost`);
    t.equal(r.uid, 7);
    t.equal(r.verifyCode, 15);
    t.equal(verifyFromZk(r.verifyCode), 'face');
    t.equal(r.state, 1);
    t.same(r.time, T);
    if (size === 49) t.equal(r.workcode, 12345);
    // An id that fills all 24 bytes (no NUL) is kept too.
    const full = decodeRecord(record40(Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWX', 'latin1'), size), size);
    t.equal(full.user, 'ABCDEFGHIJKLMNOPQRSTUVWX');
  }
  // Bytes after the NUL are padding, not part of the id.
  t.equal(decodeRecord(record40(Buffer.from('123456789\0GARBAGE', 'latin1'), 40), 40).user, '123456789');
  // Encoding refuses what does not fit instead of truncating.
  t.throws(() => encodeRecord({ user: 'X'.repeat(25), verifyCode: 1, state: 0, time: T }, 40), RangeError);
});

t.test('attendance buffer: size from the record count, never a partial log', async (t) => {
  const recs = [
    { uid: 1, user: '1001', verifyCode: 1, state: 0, time: T },
    { uid: 2, user: '1002', verifyCode: 2, state: 1, time: { ...T, s: 16 } },
  ];
  for (const size of [8, 16, 40, 49] as RecordSize[]) {
    const body = Buffer.concat(recs.map((r) => encodeRecord(size === 8 ? { ...r, uid: Number(r.user) } : r, size)));
    const head = Buffer.alloc(4);
    head.writeUInt32LE(body.length, 0);
    const buf = Buffer.concat([head, body]);
    const out = decodeAttlogBuffer(buf, 2);
    t.equal(out.recordSize, size);
    t.same(out.records.map((r) => r.user), ['1001', '1002']);
    t.throws(() => decodeAttlogBuffer(buf.subarray(0, buf.length - 1), 2), AttlogFormatError, `${size}: short buffer rejected`);
    // A punch between the count and the download: either count may fit; the size this terminal
    // used before breaks a tie, and with no count fitting and nothing known the log is refused.
    t.equal(decodeAttlogBuffer(buf, [1, 2], size).recordSize, size);
    t.equal(decodeAttlogBuffer(buf, [7, 2]).recordSize, size);
    t.throws(() => decodeAttlogBuffer(buf, [3]), AttlogFormatError, `${size}: unconfirmed size refused`);
    t.equal(decodeAttlogBuffer(buf, [3], size).records.length, 2);
  }
  t.same(decodeAttlogBuffer(Buffer.from([0, 0, 0, 0]), 0).records, []);
  t.throws(() => decodeAttlogBuffer(Buffer.from([1, 2]), 0), AttlogFormatError);
});

t.test('realtime EF_ATTLOG layouts', async (t) => {
  const r = { user: 'LONG-USER-ID-0001', verifyCode: 1, state: 0, time: T };
  for (const layout of [32, 36, 37, 52] as const) {
    const [d] = decodeRealtimeAttlog(encodeRealtimeAttlog(r, layout));
    t.equal(d.user, 'LONG-USER-ID-0001', `${layout} bytes`);
    t.equal(d.verifyCode, 1);
    t.same(d.time, T);
  }
  const [n] = decodeRealtimeAttlog(encodeRealtimeAttlog({ ...r, user: '4242' }, 12));
  t.equal(n.user, '4242');
  // Two records in one event.
  const two = decodeRealtimeAttlog(Buffer.concat([encodeRealtimeAttlog(r, 52), encodeRealtimeAttlog({ ...r, user: 'B' }, 52)]));
  t.same(two.map((x) => x.user), ['LONG-USER-ID-0001', 'B']);
  t.throws(() => decodeRealtimeAttlog(Buffer.alloc(20)), RangeError);
});

t.test('decoders never throw anything but their own errors on random bytes', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(20), (bytes, count) => {
      const b = Buffer.from(bytes);
      try {
        decodeAttlogBuffer(b, count);
      } catch (e) {
        if (!(e instanceof AttlogFormatError)) throw e;
      }
      try {
        decodeRealtimeAttlog(b);
      } catch (e) {
        if (!(e instanceof RangeError)) throw e;
      }
      return true;
    }),
  );
  t.pass('no foreign exception');
});

t.test('verify codes', async (t) => {
  t.equal(verifyFromZk(0), 'password');
  t.equal(verifyFromZk(1), 'fingerprint');
  t.equal(verifyFromZk(2), 'card');
  t.equal(verifyFromZk(15), 'face');
  t.equal(verifyFromZk(99), 'unknown');
});

t.test('terminal times that name no calendar second are recognised', async (t) => {
  t.equal(isValidLocal({ ...T, mo: 2, d: 31 }), false);
  t.equal(isValidLocal(T), true);
});
