// ZkClient against a hand-written terminal that misbehaves on purpose: stray replies with old
// reply ids, an event in the middle of a reply, replies trickling in byte by byte, no reply.
import t from 'tap';
import { createServer, type Socket } from 'node:net';
import { ZkClient } from '../../drivers/zk/zk-client.js';
import { CMD, EF, encodePacket, frameTcp } from '../../drivers/zk/packet.js';
import { TcpFramer } from '../../drivers/zk/tcp-framer.js';
import { encodePackedTime, encodeRealtimeAttlog } from '../../drivers/zk/attlog.js';
import { ZkTimeoutError } from '../../drivers/zk/errors.js';

const T = { y: 2026, mo: 12, d: 4, h: 8, mi: 30, s: 15 };

async function rawTerminal(t: { teardown: (fn: () => Promise<void>) => void }, onPacket: (sock: Socket, cmd: number, replyId: number) => void) {
  const sockets = new Set<Socket>();
  const server = createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    const framer = new TcpFramer();
    sock.on('data', (d) => {
      for (const p of framer.push(d)) onPacket(sock, p.command, p.replyId);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  t.teardown(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return port;
}

const pkt = (command: number, replyId: number, data?: Buffer, sessionId = 77) => frameTcp(encodePacket({ command, sessionId, replyId, data }));

t.test('reply matched by reply id; strays and events in between do not confuse it', async (t) => {
  const port = await rawTerminal(t, (sock, cmd, replyId) => {
    if (cmd === CMD.CONNECT) return sock.write(pkt(CMD.ACK_OK, replyId));
    if (cmd === CMD.GET_TIME) {
      const time = Buffer.alloc(4);
      time.writeUInt32LE(encodePackedTime(T), 0);
      const wrongTime = Buffer.alloc(4);
      const bytes = Buffer.concat([
        pkt(CMD.ACK_OK, (replyId + 500) % 65535, wrongTime), // a late reply to something else
        Buffer.from('noise'),
        pkt(CMD.REG_EVENT, 0, encodeRealtimeAttlog({ user: 'EVT-USER-123456', verifyCode: 1, state: 0, time: T }, 36), EF.ATTLOG),
        pkt(CMD.ACK_OK, replyId, time),
      ]);
      // One byte at a time.
      let i = 0;
      const drip = (): void => {
        if (i < bytes.length && !sock.destroyed) {
          sock.write(bytes.subarray(i, i + 1));
          i++;
          setImmediate(drip);
        }
      };
      drip();
    }
  });
  const c = new ZkClient({ host: '127.0.0.1', port, transport: 'tcp', timeoutMs: 5000 });
  const events: Buffer[] = [];
  c.on('event', (ev) => {
    events.push(ev.data);
    c.ackEvent(ev);
  });
  let bad = 0;
  c.on('frame', (ok) => {
    if (!ok) bad++;
  });
  await c.connect();
  t.equal(c.session, 77);
  t.same(await c.getTime(), T);
  t.equal(events.length, 1);
  t.equal(events[0].subarray(0, 15).toString(), 'EVT-USER-123456');
  t.equal(bad, 0, 'noise is skipped, not a frame');
  await c.close();
});

t.test('no reply: the request times out and the session can be dropped', async (t) => {
  const port = await rawTerminal(t, (sock, cmd, replyId) => {
    if (cmd === CMD.CONNECT) sock.write(pkt(CMD.ACK_OK, replyId));
    // everything else: silence
  });
  const c = new ZkClient({ host: '127.0.0.1', port, transport: 'tcp', timeoutMs: 300 });
  await c.connect();
  await t.rejects(c.getFreeSizes(), ZkTimeoutError);
  // Queued commands after a timeout still run (each with its own timeout).
  await t.rejects(c.getVersion(), ZkTimeoutError);
  c.destroy('test');
  t.equal(c.isOpen, false);
  await t.rejects(c.getVersion(), /test/);
});

t.test('a data sequence that ends short is an incomplete download, never data', async (t) => {
  const port = await rawTerminal(t, (sock, cmd, replyId) => {
    if (cmd === CMD.CONNECT) return sock.write(pkt(CMD.ACK_OK, replyId));
    if (cmd === CMD.READ_BUFFER) {
      const prep = Buffer.alloc(8);
      prep.writeUInt32LE(100, 0);
      sock.write(Buffer.concat([pkt(CMD.PREPARE_DATA, replyId, prep), pkt(CMD.DATA, replyId, Buffer.alloc(60)), pkt(CMD.ACK_OK, replyId)]));
    }
  });
  const c = new ZkClient({ host: '127.0.0.1', port, transport: 'tcp', timeoutMs: 2000 });
  await c.connect();
  const req = Buffer.alloc(8);
  req.writeInt32LE(0, 0);
  req.writeInt32LE(100, 4);
  await t.rejects(c.requestData(CMD.READ_BUFFER, req), { name: 'ZkIncompleteDownloadError' });
  await c.close();
});

t.test('comm key refused: ZkAuthError, the key is not in the message', async (t) => {
  const port = await rawTerminal(t, (sock, cmd, replyId) => {
    if (cmd === CMD.CONNECT || cmd === CMD.AUTH) sock.write(pkt(CMD.ACK_UNAUTH, replyId));
  });
  const c = new ZkClient({ host: '127.0.0.1', port, transport: 'tcp', commKey: 55555, timeoutMs: 2000 });
  const err = await c.connect().then(
    () => null,
    (e: Error) => e,
  );
  t.equal(err?.name, 'ZkAuthError');
  t.notMatch(err?.message ?? '', /55555/);
});
