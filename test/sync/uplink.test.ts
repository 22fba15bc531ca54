import t from 'tap';
import type { Test } from 'tap';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { freePort } from '../helpers/free-port.js';
import { openDatabase, closeDatabase } from '../../sync/store/database.js';
import { PunchStore } from '../../sync/store/punch-store.js';
import { Outbox } from '../../sync/outbox/outbox.js';
import { MqttLink } from '../../sync/mqtt/link.js';
import { makeTopics } from '../../sync/mqtt/topics.js';
import { Uplink, type UplinkOptions } from '../../sync/uplink/uplink.js';
import { contractValidator } from './contract-validator.js';
import { startCenter, waitFor } from './center.js';
import { tempDir, punch } from './fixtures.js';

const topics = makeTopics('tpgw', 'G');

function gateway(t: Test, url: string, file: string, over: Partial<UplinkOptions> = {}) {
  const db = openDatabase(file);
  const outbox = new Outbox(db);
  const store = new PunchStore(db, 'G', outbox);
  const link = new MqttLink({
    url,
    clientId: `tpgw-G-${Math.random().toString(16).slice(2)}`,
    rejectUnauthorized: true,
    keepalive: 30,
    protocolVersion: 5,
    reconnectMinMs: 50,
    reconnectMaxMs: 300,
    topics,
    statusOnline: () => ({ version: '0.1.0', startedAt: new Date().toISOString() }),
  });
  const uplink = new Uplink({
    stream: 'attendance',
    outbox,
    link,
    topics,
    batchMax: 10,
    lingerMs: 20,
    maxInflightBatches: 2,
    ackTimeoutMs: 60_000,
    ...over,
  });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await uplink.stop();
    await link.stop();
    closeDatabase(db);
  };
  t.teardown(stop);
  const append = (from: number, n: number) => {
    for (let i = from; i < from + n; i++) store.append(punch(i));
    uplink.notify();
  };
  return { db, outbox, store, link, uplink, append, stop };
}

async function setup(t: Test, centerOpts: { autoAck?: boolean } = {}) {
  const broker = await startBroker();
  t.teardown(() => broker.stop());
  const center = await startCenter(broker.url, topics, centerOpts);
  t.teardown(() => center.stop());
  return { broker, center, file: join(tempDir(t), 'tpgw.db') };
}

const seqs = (b: { records: { seq: number }[] }) => b.records.map((r) => r.seq);

t.test('batches: batchMax, linger fills a partial batch, seq order, all settled', async (t) => {
  const { broker, center, file } = await setup(t);
  const gw = gateway(t, broker.url, file, { maxInflightBatches: 8 });
  gw.link.start();
  gw.uplink.start();
  await waitFor(() => gw.link.isConnected(), 'link up');
  gw.append(0, 25);
  await waitFor(() => gw.outbox.stats('attendance').settled === 25, 'all settled');
  t.same(center.received.map((b) => b.records.length), [10, 10, 5]);
  t.same(center.received.flatMap(seqs), Array.from({ length: 25 }, (_, i) => i + 1), 'seq order');
  const check = contractValidator();
  for (const b of center.received) t.same(check('attendanceBatch', b.raw), [], 'batch matches the contract');
  t.same(check('ack', JSON.stringify({ v: 1, batch: center.received[0].batch })), []);
  t.match(gw.uplink.status(), { batchesSent: 3, batchesAcked: 3, recordsAcked: 25, inflightBatches: 0 });
  t.match(gw.store.get('G:25'), { state: 'settled' });

  // Punches arriving one at a time within the linger window travel together.
  for (let i = 25; i < 29; i++) {
    gw.store.append(punch(i));
    gw.uplink.notify();
  }
  await waitFor(() => gw.outbox.stats('attendance').settled === 29, 'trickle settled');
  t.ok(center.received.length <= 5, `4 trickled punches used few batches (${center.received.length - 3})`);
});

t.test('maxInflightBatches bounds unacked batches; ack settles only the named batch', async (t) => {
  const { broker, center, file } = await setup(t, { autoAck: false });
  const gw = gateway(t, broker.url, file, { maxInflightBatches: 2, lingerMs: 0 });
  gw.link.start();
  gw.uplink.start();
  await waitFor(() => gw.link.isConnected(), 'link up');
  gw.append(0, 45);
  await waitFor(() => center.received.length === 2, 'two batches');
  // Give the uplink every chance to overrun the limit (event-driven: the next tick would do it).
  await new Promise((r) => setTimeout(r, 200));
  t.equal(center.received.length, 2, 'no third batch while two are unacked');
  t.match(gw.outbox.stats('attendance'), { inflight: 20, pending: 25, settled: 0 });

  await center.ack(center.received[1].batch);
  await waitFor(() => gw.outbox.stats('attendance').settled === 10, 'second batch settled');
  t.same(gw.outbox.states('attendance').filter((r) => r.state === 'settled').map((r) => r.seq), [11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
  await waitFor(() => center.received.length === 3, 'a slot freed: third batch');
  t.same(seqs(center.received[2]), [21, 22, 23, 24, 25, 26, 27, 28, 29, 30]);

  // Malformed and unknown acks change nothing.
  const bad = await mqtt.connectAsync(broker.url);
  t.teardown(() => bad.endAsync(true));
  for (const p of ['not json', '{"v":1}', '{"v":2,"batch":"x"}', '[]', '{"v":1,"batch":"attendance-999-999-deadbeef"}']) {
    await bad.publishAsync(topics.ack('attendance'), p, { qos: 1 });
  }
  await waitFor(() => gw.uplink.status().badAcks === 4, 'bad acks counted');
  t.equal(gw.outbox.stats('attendance').settled, 10, 'nothing else settled');

  center.autoAck = true;
  await center.ack(center.received[0].batch);
  await center.ack(center.received[2].batch);
  await waitFor(() => gw.outbox.stats('attendance').settled === 45, 'everything drains once acks flow');
  t.same(center.storedIds(), Array.from({ length: 45 }, (_, i) => `G:${i + 1}`).sort((a, b) => Number(a.slice(2)) - Number(b.slice(2))));
});

t.test('no ack within ackTimeout: the same batch id with the same records is sent again', async (t) => {
  const { broker, center, file } = await setup(t, { autoAck: false });
  const gw = gateway(t, broker.url, file, { ackTimeoutMs: 300, lingerMs: 0 });
  gw.link.start();
  gw.uplink.start();
  await waitFor(() => gw.link.isConnected(), 'link up');
  gw.append(0, 5);
  await waitFor(() => center.received.length >= 2, 'sent twice');
  const [first, second] = center.received;
  t.equal(second.batch, first.batch, 'same batch id');
  t.same(second.records, first.records, 'same records, same ids');
  t.ok(gw.uplink.status().batchesResent >= 1);
  await center.ack(first.batch);
  await waitFor(() => gw.outbox.stats('attendance').settled === 5, 'settled by the ack');
  const attempts = gw.db.prepare('SELECT attempts FROM outbox_batches').pluck().all() as number[];
  t.equal(attempts.length, 1);
  t.ok(attempts[0] >= 2, 'attempts recorded');
  t.same(center.storedIds(), ['G:1', 'G:2', 'G:3', 'G:4', 'G:5'], 'center dedupes to one copy each');
});

t.test('restart with in-flight rows: they are re-sent first, same batch ids and records, then new ones', async (t) => {
  const { broker, center, file } = await setup(t, { autoAck: false });
  const gw1 = gateway(t, broker.url, file, { lingerMs: 0 });
  gw1.link.start();
  gw1.uplink.start();
  await waitFor(() => gw1.link.isConnected(), 'link up');
  gw1.append(0, 30);
  await waitFor(() => center.received.length === 2, 'two batches in flight');
  const before = center.received.map((b) => ({ batch: b.batch, records: b.records }));
  await gw1.stop(); // the process goes away with two batches unacked

  const gw2 = gateway(t, broker.url, file, { lingerMs: 0 });
  gw2.append(30, 5); // more punches arrive before the link is up
  center.received.length = 0;
  gw2.link.start();
  gw2.uplink.start();
  await waitFor(() => center.received.length === 2, 'in-flight re-sent');
  t.same(center.received.map((b) => ({ batch: b.batch, records: b.records })), before, 'same ids, same records, oldest first');
  center.autoAck = true;
  await center.ack(before[0].batch);
  await center.ack(before[1].batch);
  await waitFor(() => gw2.outbox.stats('attendance').settled === 35, 'backlog drained');
  t.same(center.received.flatMap(seqs), Array.from({ length: 35 }, (_, i) => i + 1), 'then the rest, in order');
});

t.test('broker down then up: backlog drains in order after backoff reconnects', async (t) => {
  const port = await freePort();
  const file = join(tempDir(t), 'tpgw.db');
  const gw = gateway(t, `mqtt://127.0.0.1:${port}`, file, { batchMax: 50, maxInflightBatches: 3 });
  gw.link.start();
  gw.uplink.start();
  gw.append(0, 400);
  await waitFor(() => gw.link.status().reconnects >= 2, 'retrying');
  t.equal(gw.outbox.pendingCount('attendance'), 400, 'nothing lost or claimed while down');
  let broker: TestBroker | null = await startBroker({ port });
  t.teardown(() => broker?.stop());
  const center = await startCenter(broker.url, topics);
  t.teardown(() => center.stop());
  await waitFor(() => gw.outbox.stats('attendance').settled === 400, 'drained', 60_000);
  t.same(center.storedIds(), Array.from({ length: 400 }, (_, i) => `G:${i + 1}`), 'in order, exactly once after dedupe');
  const order = center.received.flatMap(seqs);
  t.same(order, [...order].sort((a, b) => a - b), 'never out of order on the wire');

  // Broker goes away mid-stream and comes back: still nothing lost, still in order.
  await center.stop();
  await broker.stop();
  broker = null;
  gw.append(400, 100);
  await waitFor(() => !gw.link.isConnected(), 'down');
  broker = await startBroker({ port });
  const center2 = await startCenter(broker.url, topics);
  t.teardown(() => center2.stop());
  await waitFor(() => gw.outbox.stats('attendance').settled === 500, 'drained again', 60_000);
  t.same(center2.storedIds(), Array.from({ length: 100 }, (_, i) => `G:${i + 401}`));
});

t.test('acks of one burst settle together after the tick; a repeated ack in the burst is stale', async (t) => {
  const { broker, center, file } = await setup(t, { autoAck: false });
  const gw = gateway(t, broker.url, file, { batchMax: 5, maxInflightBatches: 4, lingerMs: 0 });
  gw.link.start();
  gw.uplink.start();
  await waitFor(() => gw.link.isConnected(), 'link up');
  gw.append(0, 28);
  await waitFor(() => center.received.length === 4, 'four batches in flight');
  const sent = center.received.map((b) => b.batch);
  const events: [string, number][] = [];
  gw.uplink.on('settled', (batch, n) => events.push([batch, n]));
  const ack = (batch: string) => Buffer.from(JSON.stringify({ v: 1, batch }));
  // One burst, delivered in one tick: three acks, one of them twice, and one the center never got.
  for (const b of [sent[2], sent[0], sent[2], sent[1], 'attendance-999-deadbeef']) gw.uplink.handleAck(ack(b));
  t.equal(gw.outbox.stats('attendance').settled, 0, 'nothing settled within the tick');
  t.same(events, []);
  await waitFor(() => events.length === 5, 'settled events');
  t.same(events, [[sent[2], 5], [sent[0], 5], [sent[2], 0], [sent[1], 5], ['attendance-999-deadbeef', 0]], 'one event per ack, in order');
  t.match(gw.uplink.status(), { batchesAcked: 3, recordsAcked: 15, staleAcks: 2 });
  t.same(gw.outbox.states('attendance').filter((r) => r.state === 'settled').map((r) => r.seq), Array.from({ length: 15 }, (_, i) => i + 1));
  // The freed slots are refilled with what is pending, in order (lingerMs 0: the partial too).
  await waitFor(() => center.received.length === 6, 'freed slots refilled');
  t.same(center.received.slice(4).map(seqs), [[21, 22, 23, 24, 25], [26, 27, 28]], 'in order');

  // Acks received right before stop() still settle.
  const last = center.received.slice(3).map((b) => b.batch);
  for (const b of last) gw.uplink.handleAck(ack(b));
  await gw.uplink.stop();
  t.match(gw.outbox.stats('attendance'), { settled: 28, inflight: 0, pending: 0 });
});
