// R30x packet codec vectors (computed by hand from the manual's rule) and parser properties.
import t from 'tap';
import fc from 'fast-check';
import { decodePacket, encodePacket, Pid, R30xFrameError, type R30xPacket } from '../../drivers/r30x/packet.js';
import { R30xPacketParser, type BadFrame } from '../../drivers/r30x/packet-parser.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const ANY = 0xffffffff;

t.test('encode: hand-computed vectors', async (t) => {
  // GenImg: sum = 01 + 00 + 03 + 01 = 0x0005
  t.same(encodePacket({ address: ANY, pid: Pid.command, payload: hex('01') }), hex('EF01 FFFFFFFF 01 0003 01 0005'));
  // Img2Tz(1): 01 + 00 + 04 + 02 + 01 = 0x0008
  t.same(encodePacket({ address: ANY, pid: Pid.command, payload: hex('0201') }), hex('EF01 FFFFFFFF 01 0004 0201 0008'));
  // Search(buffer 1, start 0, count 1000=0x03E8): 01+00+08+04+01+00+00+03+E8 = 17+232 = 0x00F9
  t.same(encodePacket({ address: ANY, pid: Pid.command, payload: hex('04 01 0000 03E8') }), hex('EF01 FFFFFFFF 01 0008 04010000 03E8 00F9'));
  // Ack OK, page 5, score 100: 07+00+07+00+00+05+00+64 = 0x0077
  t.same(encodePacket({ address: ANY, pid: Pid.ack, payload: hex('00 0005 0064') }), hex('EF01 FFFFFFFF 07 0007 00 0005 0064 0077'));
  // Address is not part of the checksum.
  t.same(encodePacket({ address: 0x12345678, pid: Pid.command, payload: hex('01') }), hex('EF01 12345678 01 0003 01 0005'));
  t.throws(() => encodePacket({ address: ANY, pid: Pid.data, payload: Buffer.alloc(257) }), RangeError);
});

t.test('decode: round trip and every rejection reason', async (t) => {
  const p = decodePacket(hex('EF01 FFFFFFFF 07 0007 00 0005 0064 0077'));
  t.equal(p.pid, Pid.ack);
  t.equal(p.address, ANY);
  t.same(p.payload, hex('0000050064'));
  const reason = (b: Buffer) => {
    try {
      decodePacket(b);
      return 'ok';
    } catch (e) {
      return (e as R30xFrameError).reason;
    }
  };
  t.equal(reason(hex('EF01 FFFFFFFF 01 0003 01 0006')), 'checksum');
  t.equal(reason(hex('EF02 FFFFFFFF 01 0003 01 0005')), 'header');
  t.equal(reason(hex('EF01 FFFFFFFF 05 0003 01 0005')), 'pid');
  t.equal(reason(hex('EF01 FFFFFFFF 01 0004 01 0005')), 'length');
  t.equal(reason(hex('EF01 FFFF')), 'short');
});

interface Run {
  packets: R30xPacket[];
  bad: BadFrame[];
}

function runParser(chunks: Buffer[]): Promise<Run> {
  const parser = new R30xPacketParser({ stallMs: 5 });
  const out: Run = { packets: [], bad: [] };
  parser.on('data', (p: R30xPacket) => out.packets.push(p));
  parser.on('bad-frame', (b: BadFrame) => out.bad.push(b));
  return new Promise((resolve, reject) => {
    parser.on('error', reject);
    parser.on('end', () => resolve(out));
    for (const c of chunks) parser.write(c);
    parser.end();
  });
}

/** Cuts `data` into chunks at the given (sorted, deduplicated) positions. */
function split(data: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of at) {
    out.push(data.subarray(prev, c));
    prev = c;
  }
  out.push(data.subarray(prev));
  return out.filter((c) => c.length > 0);
}

const packetArb = fc
  .record({
    address: fc.constantFrom(ANY, 0x12345678),
    pid: fc.constantFrom<number>(Pid.command, Pid.data, Pid.ack, Pid.endData),
    payload: fc.uint8Array({ minLength: 0, maxLength: 256 }),
  })
  .map((r) => ({ address: r.address, pid: r.pid, payload: Buffer.from(r.payload) }));

const sameAs = (got: R30xPacket[], want: R30xPacket[]) =>
  got.length === want.length && got.every((p, i) => encodePacket(p).equals(encodePacket(want[i])));

t.test('parser: random bytes in random chunks never throw, every packet out is valid', async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 2000 }), fc.array(fc.nat(2000), { maxLength: 20 }), async (bytes, cuts) => {
      const run = await runParser(split(Buffer.from(bytes), cuts));
      for (const p of run.packets) decodePacket(encodePacket(p)); // re-encodes consistently
      return true;
    }),
    { numRuns: 200 },
  );
});

t.test('parser: packets after arbitrary garbage (and split/merged) are all found', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(fc.uint8Array({ maxLength: 40 }), packetArb), { minLength: 1, maxLength: 6 }),
      fc.array(fc.nat(3000), { maxLength: 30 }),
      async (items, cuts) => {
        // Garbage without 0xEF cannot fake a header; with it, see the next property.
        const stream = Buffer.concat(items.flatMap(([g, p]) => [Buffer.from(g.filter((b) => b !== 0xef)), encodePacket(p)]));
        const run = await runParser(split(stream, cuts));
        return sameAs(run.packets, items.map(([, p]) => p));
      },
    ),
    { numRuns: 200 },
  );
});

t.test('parser: false headers and bogus lengths in the garbage do not swallow the next packet', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ maxLength: 300 }),
      fc.nat(0xffff),
      packetArb,
      fc.array(fc.nat(600), { maxLength: 10 }),
      async (garbage, bogusLength, packet, cuts) => {
        const falseHeader = Buffer.from([0xef, 0x01, 0xff, 0xff, 0xff, 0xff, 0x07, bogusLength >> 8, bogusLength & 0xff]);
        const stream = Buffer.concat([Buffer.from(garbage), falseHeader, encodePacket(packet)]);
        const run = await runParser(split(stream, cuts));
        const last = run.packets.at(-1);
        return last !== undefined && encodePacket(last).equals(encodePacket(packet)) && run.bad.length > 0;
      },
    ),
    { numRuns: 200 },
  );
});

t.test('parser: a corrupted or truncated packet costs only itself, in any chunking', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(packetArb, { minLength: 2, maxLength: 6 }),
      fc.nat(),
      fc.nat(),
      fc.integer({ min: 1, max: 255 }),
      fc.boolean(),
      fc.array(fc.nat(3000), { maxLength: 20 }),
      async (packets, which, pos, xor, truncate, cuts) => {
        const k = which % packets.length;
        const wires = packets.map((p) => Buffer.from(encodePacket(p)));
        if (truncate) wires[k] = wires[k].subarray(0, pos % wires[k].length);
        else wires[k][pos % wires[k].length] ^= xor;
        const run = await runParser(split(Buffer.concat(wires), cuts));
        const want = packets.filter((_, i) => i !== k).map((p) => encodePacket(p));
        // Every other packet, in order (the damaged one may survive a harmless flip, e.g. in the
        // address, which the checksum does not cover).
        let i = 0;
        for (const p of run.packets) if (i < want.length && encodePacket(p).equals(want[i])) i++;
        return i === want.length;
      },
    ),
    { numRuns: 200 },
  );
});

t.test('parser: corrupted checksum and truncated packets are counted, neighbours survive', async (t) => {
  const a = encodePacket({ address: ANY, pid: Pid.ack, payload: hex('00') });
  const b = encodePacket({ address: ANY, pid: Pid.ack, payload: hex('000005 0064') });
  const corrupt = Buffer.from(b);
  corrupt[corrupt.length - 1] ^= 0x55;
  const truncated = b.subarray(0, 7);
  const run = await runParser([Buffer.concat([a, corrupt, truncated, a, b])]);
  t.equal(run.packets.length, 3, 'a, a, b');
  t.ok(run.bad.some((x) => x.reason === 'checksum'), 'checksum failure reported');
});

t.test('parser: a stalled false header is dropped after stallMs while the stream stays open', async (t) => {
  const parser = new R30xPacketParser({ stallMs: 10 });
  const got: R30xPacket[] = [];
  const bad: BadFrame[] = [];
  parser.on('data', (p: R30xPacket) => got.push(p));
  parser.on('bad-frame', (b: BadFrame) => bad.push(b));
  const good = encodePacket({ address: ANY, pid: Pid.ack, payload: hex('00') });
  // Claims 256 payload bytes; only a 12-byte real packet follows, then silence.
  parser.write(Buffer.concat([hex('EF01 FFFFFFFF 07 0102'), good]));
  t.equal(got.length, 0, 'waiting for the claimed length');
  // The stall timer is unref'd (it must never keep the gateway alive): hold the loop open here.
  const guard = setTimeout(() => {}, 10_000);
  await new Promise<void>((resolve) => parser.once('data', () => resolve()));
  clearTimeout(guard);
  t.equal(got.length, 1);
  t.same(encodePacket(got[0]), good);
  t.ok(bad.some((b) => b.reason === 'stall'));
  parser.destroy();
});

t.test('parser: a false frame whose checksum passes by covering the real reply gives way to it', async (t) => {
  // Found by the property above (seed -949321360): a false header claiming 10 bytes takes the
  // real packet's header and its first payload bytes, and the sum of what it covers happens to be
  // those payload bytes. Delivered, it would have stood in for the real ack.
  const real = encodePacket({ address: ANY, pid: Pid.command, payload: hex('FE00') });
  const stream = Buffer.concat([hex('EF01 FFFFFFFF 07 000A'), real]);
  for (const chunks of [[stream], [...stream].map((b) => Buffer.from([b]))]) {
    const run = await runParser(chunks);
    t.same(run.packets.map((p) => encodePacket(p)), [real], 'only the real packet');
    t.ok(run.bad.some((b) => b.reason === 'overlap'), 'the false frame is reported');
  }
});

t.test('parser: a whole packet inside another packet\'s payload is payload', async (t) => {
  const embedded = encodePacket({ address: ANY, pid: Pid.ack, payload: hex('00') });
  const outer = encodePacket({ address: ANY, pid: Pid.data, payload: Buffer.concat([hex('0102'), embedded, hex('03')]) });
  const run = await runParser([outer, encodePacket({ address: ANY, pid: Pid.endData, payload: hex('04') })]);
  t.same(run.packets.map((p) => p.pid), [Pid.data, Pid.endData]);
  t.same(run.bad, []);
});

t.test('parser: a reply that may be the start of an overlapping packet is held for at most stallMs', async (t) => {
  // Ack with payload 00 E4: its checksum is 00 EF, so the reply ends in EF, which may be the start
  // of a packet running past it. Nothing follows, so it goes out when the line stays quiet.
  const reply = encodePacket({ address: ANY, pid: Pid.ack, payload: hex('00E4') });
  t.equal(reply.at(-1), 0xef);
  const parser = new R30xPacketParser({ stallMs: 10 });
  const got: R30xPacket[] = [];
  const bad: BadFrame[] = [];
  parser.on('data', (p: R30xPacket) => got.push(p));
  parser.on('bad-frame', (b: BadFrame) => bad.push(b));
  parser.write(reply);
  t.equal(got.length, 0, 'held');
  const guard = setTimeout(() => {}, 10_000);
  await new Promise<void>((resolve) => parser.once('data', () => resolve()));
  clearTimeout(guard);
  t.same(got.map((p) => encodePacket(p)), [reply]);
  t.same(bad, [], 'nothing dropped');
  // Followed by another packet, it goes out at once.
  const next = encodePacket({ address: ANY, pid: Pid.ack, payload: hex('00') });
  parser.write(Buffer.concat([reply, next]));
  t.equal(got.length, 3);
  parser.destroy();
});
