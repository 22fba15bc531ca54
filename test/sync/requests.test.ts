import t from 'tap';
import fc from 'fast-check';
import mqtt from 'mqtt';
import { join } from 'node:path';
import { startBroker } from '../helpers/broker.js';
import { openDatabase, closeDatabase } from '../../sync/store/database.js';
import { PunchStore } from '../../sync/store/punch-store.js';
import { Outbox } from '../../sync/outbox/outbox.js';
import { MqttLink } from '../../sync/mqtt/link.js';
import { makeTopics } from '../../sync/mqtt/topics.js';
import { RequestRouter } from '../../sync/requests/request-router.js';
import { registerSyncRequests } from '../../sync/requests/sync-requests.js';
import { parseRequest } from '../../sync/requests/request-parser.js';
import { parseAck } from '../../sync/uplink/ack-parser.js';
import { contractValidator } from './contract-validator.js';
import { waitFor } from './center.js';
import { tempDir, punch } from './fixtures.js';

const topics = makeTopics('tpgw', 'G');

t.test('request parser', async (t) => {
  t.same(parseRequest(Buffer.from('{"v":1,"transaction":"a1","from":3}')), { ok: true, transaction: 'a1', args: { from: 3 } });
  t.same(parseRequest(''), { ok: true, transaction: undefined, args: {} }, 'empty payload = no arguments');
  t.same(parseRequest('{"transaction":7}'), { ok: true, transaction: 7, args: {} }, 'v may be omitted');
  t.match(parseRequest('{"v":2,"transaction":"x"}'), { ok: false, transaction: 'x', error: /v must be 1/ });
  t.match(parseRequest('{nope'), { ok: false, error: 'malformed JSON' });
  t.match(parseRequest('[1,2]'), { ok: false, error: /JSON object/ });
  t.match(parseRequest('null'), { ok: false, error: /JSON object/ });
  t.match(parseRequest('"str"'), { ok: false, error: /JSON object/ });
  t.match(parseRequest(Buffer.alloc(300 * 1024, 0x20)), { ok: false, error: /too large/ });
  t.match(parseRequest('{"v":1,"transaction":{"a":1}}'), { ok: false, error: /transaction/ });
});

t.test('property: no input makes the request or ack parser throw', async (t) => {
  const inputs = fc.oneof(
    fc.uint8Array({ maxLength: 512 }).map((a) => Buffer.from(a)),
    fc.string().map((s) => Buffer.from(s)),
    fc.json().map((s) => Buffer.from(s)),
    fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v) ?? '')),
    fc.record({ v: fc.anything(), transaction: fc.anything(), batch: fc.anything() }).map((o) => {
      try {
        return Buffer.from(JSON.stringify(o) ?? '');
      } catch {
        return Buffer.from('');
      }
    }),
    // Truncated valid messages.
    fc.nat({ max: 40 }).map((n) => Buffer.from('{"v":1,"transaction":"abc","batch":"attendance-1-2-ab"}'.slice(0, n))),
  );
  fc.assert(
    fc.property(inputs, (buf) => {
      const r = parseRequest(buf);
      const a = parseAck(buf);
      if (typeof r.ok !== 'boolean' || typeof a.ok !== 'boolean') return false;
      if (!r.ok && typeof r.error !== 'string') return false;
      if (a.ok && typeof a.batch !== 'string') return false;
      return true;
    }),
    { numRuns: 2000 },
  );
  // A valid message after garbage (separate deliveries) is still accepted.
  t.same(parseAck('garbage'), { ok: false, error: 'ack is not valid JSON' });
  t.same(parseAck('{"v":1,"batch":"b-1"}'), { ok: true, batch: 'b-1' });
});

t.test('router over a real broker: ok, unknown, malformed, handler error; service keeps running', async (t) => {
  const broker = await startBroker();
  t.teardown(() => broker.stop());
  const db = openDatabase(join(tempDir(t), 'tpgw.db'));
  const outbox = new Outbox(db);
  const store = new PunchStore(db, 'G', outbox);
  const link = new MqttLink({
    url: broker.url, clientId: 'tpgw-G', rejectUnauthorized: true, keepalive: 30, protocolVersion: 5,
    reconnectMinMs: 50, reconnectMaxMs: 300, topics, statusOnline: () => ({ version: '0.1.0', startedAt: new Date().toISOString() }),
  });
  const router = new RequestRouter(link, topics);
  let resyncs = 0;
  registerSyncRequests(router, { outbox, uplinks: { attendance: { resync: () => resyncs++ } } });
  router.register('ping', () => ({ pong: true }));
  router.register('boom', () => {
    throw new Error('handler exploded');
  });
  router.register('slow/async', async (args) => ({ echo: args }));
  t.throws(() => router.register('bad name', () => 1));
  t.teardown(async () => {
    router.close();
    await link.stop();
    closeDatabase(db);
  });
  link.start();
  await waitFor(() => link.isConnected(), 'link up');

  const center = await mqtt.connectAsync(broker.url);
  t.teardown(() => center.endAsync(true));
  const responses: { topic: string; body: Record<string, unknown> }[] = [];
  center.on('message', (topic, p) => responses.push({ topic, body: JSON.parse(p.toString()) as Record<string, unknown> }));
  await center.subscribeAsync(`${topics.base}/response/#`, { qos: 1 });
  const check = contractValidator();
  const ask = async (name: string, payload: string) => {
    const n = responses.length;
    await center.publishAsync(topics.request(name), payload, { qos: 1 });
    await waitFor(() => responses.length > n, `response to ${name}`);
    const r = responses[n];
    t.same(check('response', r.body), [], `response to ${name} matches the contract`);
    return r;
  };
  t.same(check('request', { v: 1, transaction: 'x', from: 2 }), []);

  t.same(await ask('ping', '{"v":1,"transaction":"t1"}'), { topic: 'tpgw/G/response/ping', body: { v: 1, transaction: 't1', status: 'ok', data: { pong: true } } });
  t.match(await ask('nope', '{"v":1,"transaction":"t2"}'), { topic: 'tpgw/G/response/nope', body: { v: 1, transaction: 't2', status: 'error', error: 'unknown request "nope"' } });
  t.match(await ask('ping', '{"v":1,"transaction":'), { body: { v: 1, status: 'error', error: 'malformed JSON' } });
  t.match(await ask('ping', '[1]'), { body: { status: 'error', error: /JSON object/ } });
  t.match(await ask('boom', '{"v":1,"transaction":9}'), { body: { transaction: 9, status: 'error', error: 'handler exploded' } });
  t.match(await ask('slow/async', '{"v":1,"transaction":"t3","x":[1]}'), { topic: 'tpgw/G/response/slow/async', body: { status: 'ok', data: { echo: { x: [1] } } } });
  t.match(await ask('ping', '{"v":1,"transaction":"still-alive"}'), { body: { status: 'ok', transaction: 'still-alive' } });

  for (let i = 0; i < 5; i++) store.append(punch(i));
  const b = outbox.takeBatch('attendance', 3)!;
  outbox.settle('attendance', b.batch);
  const st = await ask('sync/status', '{"v":1,"transaction":"s"}');
  t.match(st.body, { status: 'ok', data: { streams: { attendance: { pending: 2, inflight: 0, settled: 3, lastSeq: 5 }, recordings: { pending: 0 } } } });
  t.type((st.body.data as { streams: { attendance: { lastAckAt: unknown } } }).streams.attendance.lastAckAt, 'string');
  t.type((st.body.data as { streams: { attendance: { oldestPendingAgeSeconds: unknown } } }).streams.attendance.oldestPendingAgeSeconds, 'number');

  t.match(await ask('sync/resend', '{"v":1,"transaction":"r","from":2}'), { body: { status: 'ok', data: { stream: 'attendance', from: 2, requeued: 2 } } });
  t.equal(resyncs, 1, 'uplink told to resync');
  t.equal(outbox.pendingCount('attendance'), 4);
  t.match(await ask('sync/resend', '{"v":1,"transaction":"r2"}'), { body: { status: 'error', error: /from/ } });
  t.match(await ask('sync/resend', '{"v":1,"stream":"videos","from":1}'), { body: { status: 'error', error: /stream/ } });

  // handle() called by a caller that routes messages itself does not answer the same delivery twice.
  const payload = Buffer.from('{"v":1,"transaction":"once"}');
  const n = responses.length;
  const first = await router.handle(topics.request('ping'), payload);
  const again = await router.handle(topics.request('ping'), payload);
  t.match(first, { status: 'ok' });
  t.equal(again, undefined);
  await waitFor(() => responses.length === n + 1, 'one response');
  t.equal(await router.handle('tpgw/G/status', Buffer.from('{}')), undefined, 'non-request topics ignored');
});
