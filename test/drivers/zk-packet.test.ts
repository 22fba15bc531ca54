import t from 'tap';
import fc from 'fast-check';
import { CMD, checksum, decodePacket, encodePacket, frameTcp, makeCommKey } from '../../drivers/zk/packet.js';

t.test('CMD_CONNECT is the packet pyzk puts on the wire', async (t) => {
  const p = encodePacket({ command: CMD.CONNECT, sessionId: 0, replyId: 0 });
  t.equal(p.toString('hex'), 'e80317fc00000000');
  t.equal(frameTcp(p).toString('hex'), '5050827d08000000e80317fc00000000');
});

t.test('checksum vectors from adrobinoga/zk-protocol', async (t) => {
  // CMD_OPTIONS_RRQ "ZKFaceVersion" from the SDK: checksum 0x175a.
  const req = decodePacket(Buffer.from('0b005a17f38d03005a4b4661636556657273696f6e00', 'hex'));
  t.ok(req);
  t.equal(req!.checksum, 0x175a);
  t.equal(req!.checksumOk, true);
  t.equal(req!.sessionId, 0x8df3);
  t.equal(req!.replyId, 3);
  t.equal(req!.data.toString('latin1'), 'ZKFaceVersion\0');
  // A terminal's CMD_ACK_OK with one odd data byte: checksum 0x6a29.
  const ack = decodePacket(Buffer.from('d007296af38d0a0009', 'hex'));
  t.equal(ack!.command, CMD.ACK_OK);
  t.equal(ack!.checksum, 0x6a29);
  t.equal(ack!.checksumOk, true);
  // One flipped bit is detected.
  const bad = Buffer.from('d007296af38d0a0008', 'hex');
  t.equal(decodePacket(bad)!.checksumOk, false);
});

// pyzk's __create_checksum, ported literally; pyzk computes it over the packet with the reply id
// *before* incrementing it and then sends the incremented id.
function pyzkChecksum(p: Buffer): number {
  const USHRT_MAX = 65535;
  let c = 0;
  let i = 0;
  let l = p.length;
  while (l > 1) {
    c += p[i] | (p[i + 1] << 8);
    i += 2;
    if (c > USHRT_MAX) c -= USHRT_MAX;
    l -= 2;
  }
  if (l) c += p[p.length - 1];
  while (c > USHRT_MAX) c -= USHRT_MAX;
  c = ~c;
  while (c < 0) c += USHRT_MAX;
  return c;
}

t.test('matches the bytes pyzk sends for any command', async (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffff }),
      fc.integer({ min: 0, max: 0xffff }),
      fc.integer({ min: 0, max: 65533 }),
      fc.uint8Array({ maxLength: 64 }),
      (command, session, replyPre, data) => {
        const pre = Buffer.alloc(8 + data.length);
        pre.writeUInt16LE(command, 0);
        pre.writeUInt16LE(session, 4);
        pre.writeUInt16LE(replyPre, 6);
        pre.set(data, 8);
        const pyzk = pyzkChecksum(pre) & 0xffff;
        const ours = encodePacket({ command, sessionId: session, replyId: replyPre + 1, data }).readUInt16LE(2);
        // 0x0000 and 0xffff are one value in ones' complement; both sides may pick either.
        return ours === pyzk || (ours === 0xffff && pyzk === 0) || (ours === 0 && pyzk === 0xffff);
      },
    ),
    { numRuns: 2000 },
  );
  t.pass('2000 random packets agree with pyzk');
});

t.test('encode/decode round trip; decode never throws', async (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffff }),
      fc.integer({ min: 0, max: 0xffff }),
      fc.integer({ min: 0, max: 0xffff }),
      fc.uint8Array({ maxLength: 200 }),
      (command, sessionId, replyId, data) => {
        const d = decodePacket(encodePacket({ command, sessionId, replyId, data }))!;
        return d.checksumOk && d.command === command && d.sessionId === sessionId && d.replyId === replyId && Buffer.from(data).equals(d.data);
      },
    ),
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const d = decodePacket(bytes);
      return d === null ? bytes.length < 8 : typeof d.checksumOk === 'boolean';
    }),
  );
  t.pass('round trips hold');
  t.equal(checksum(Buffer.alloc(0)), 0xffff);
});

t.test('comm key scrambling matches pyzk make_commkey', async (t) => {
  t.equal(makeCommKey(123456, 0x1234).toString('hex'), '267f32eb');
  t.equal(makeCommKey(0, 1).toString('hex'), '617d3279');
});
