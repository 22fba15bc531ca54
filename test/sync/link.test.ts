import t from 'tap';
import fc from 'fast-check';
import mqtt from 'mqtt';
import { startBroker } from '../helpers/broker.js';
import { freePort } from '../helpers/free-port.js';
import { MqttLink, redactUrl } from '../../sync/mqtt/link.js';
import { backoffDelay } from '../../sync/mqtt/backoff.js';
import { makeTopics } from '../../sync/mqtt/topics.js';
import { contractValidator } from './contract-validator.js';
import { waitFor } from './center.js';
import { linkOpts, startedAt, topics } from './link-options.js';


async function observer(url: string, topic: string) {
  const c = await mqtt.connectAsync(url, { clientId: `obs-${Math.random().toString(16).slice(2)}` });
  const seen: Record<string, unknown>[] = [];
  c.on('message', (_t, p) => seen.push(JSON.parse(p.toString()) as Record<string, unknown>));
  await c.subscribeAsync(topic, { qos: 1 });
  return { seen, stop: () => c.endAsync(true) };
}

t.test('topics', async (t) => {
  t.equal(topics.status, 'tpgw/G1/status');
  t.equal(topics.stream('attendance'), 'tpgw/G1/attendance');
  t.equal(topics.ack('recordings'), 'tpgw/G1/recordings/ack');
  t.equal(topics.snapshot('cam-1'), 'tpgw/G1/snapshot/cam-1');
  t.equal(topics.request('sync/status'), 'tpgw/G1/request/sync/status');
  t.equal(topics.response('sync/status'), 'tpgw/G1/response/sync/status');
  t.equal(topics.requestFilter, 'tpgw/G1/request/#');
  t.equal(topics.requestName('tpgw/G1/request/sync/resend'), 'sync/resend');
  t.equal(topics.requestName('tpgw/G1/request/'), null);
  t.equal(topics.requestName('tpgw/G2/request/ping'), null);
  t.equal(topics.fileFin('f1', 1234), '$file/f1/fin/1234');
  t.throws(() => makeTopics('tpgw', 'a/b'));
  t.throws(() => makeTopics('tp#', 'G'));
  t.throws(() => topics.snapshot('x+y'));
});

t.test('backoff: exponential, capped, jittered within bounds', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 100_000 }), fc.double({ min: 0, max: 1, noNaN: true }), (attempt, min, max, r) => {
      const d = backoffDelay(attempt, min, max, () => r);
      const hi = Math.max(min, max);
      return d >= Math.floor(min / 2) && d <= hi && Number.isFinite(d);
    }),
  );
  t.equal(backoffDelay(0, 1000, 60_000, () => 1), 1000);
  t.equal(backoffDelay(3, 1000, 60_000, () => 1), 8000);
  t.equal(backoffDelay(30, 1000, 60_000, () => 1), 60_000);
  t.equal(backoffDelay(3, 1000, 60_000, () => 0), 4000);
});

t.test('redactUrl never shows credentials', async (t) => {
  t.equal(redactUrl('mqtts://user:s3cret@broker.example:8883'), 'mqtts://broker.example:8883');
  t.notMatch(redactUrl('mqtt://u:p%40ss@h:1/x'), /p%40ss|u:/);
});

t.test('connect: retained online status, Last Will on abrupt loss, reconnect, offline on stop', async (t) => {
  const broker = await startBroker();
  t.teardown(() => broker.stop());
  const check = contractValidator();
  const obs = await observer(broker.url, topics.status);
  t.teardown(() => obs.stop());
  const url = broker.url.replace('mqtt://', 'mqtt://someone:hunter2@');
  const link = new MqttLink(linkOpts(url));
  let connects = 0;
  let disconnects = 0;
  link.on('connected', () => connects++);
  link.on('disconnected', () => disconnects++);
  link.start();
  await waitFor(() => connects === 1, 'first connect');
  await waitFor(() => obs.seen.length >= 1, 'online status');
  t.match(obs.seen[0], { v: 1, state: 'online', version: '0.1.0', startedAt });
  t.same(check('status', obs.seen[0]), []);
  const st = link.status();
  t.match(st, { connected: true, reconnects: 0, lastError: null });
  t.notMatch(JSON.stringify(st), /hunter2|someone/, 'no credentials in status');

  // Kill the TCP connection without DISCONNECT: the broker publishes the Last Will.
  (link as unknown as { client: { stream: { destroy(): void } } }).client.stream.destroy();
  await waitFor(() => obs.seen.some((s) => s.state === 'offline'), 'last will');
  const will = obs.seen.find((s) => s.state === 'offline')!;
  t.same(check('status', will), [], 'will payload matches the contract');
  await waitFor(() => connects === 2, 'reconnect');
  t.equal(disconnects, 1);
  await waitFor(() => obs.seen.filter((s) => s.state === 'online').length === 2, 'online again');
  t.equal(link.status().reconnects, 1);

  await link.stop();
  t.equal(link.isConnected(), false);
  await waitFor(() => obs.seen.at(-1)?.state === 'offline', 'offline on stop');
  t.match(obs.seen.at(-1), { v: 1, state: 'offline', reason: 'shutdown' });
  // The retained message a late subscriber sees is the offline one.
  const late = await observer(broker.url, topics.status);
  t.teardown(() => late.stop());
  await waitFor(() => late.seen.length === 1, 'retained status');
  t.match(late.seen[0], { state: 'offline' });
  await t.rejects(link.publish('x/y', 'z', { qos: 1, retain: false }), /not connected/);
});

t.test('broker down at start: start() does not throw, backoff reconnects, subscriptions re-applied', async (t) => {
  const port = await freePort();
  const link = new MqttLink(linkOpts(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4 }));
  t.teardown(() => link.stop());
  const got: string[] = [];
  link.on('message', (topic, payload) => got.push(`${topic}=${payload.toString()}`));
  link.subscribe('tpgw/G1/request/#');
  link.start();
  await t.rejects(link.publish('tpgw/G1/x', 'y', { qos: 1, retain: false }), /not connected/, 'no queueing while down');
  await waitFor(() => link.status().lastError !== null && link.status().reconnects >= 2, 'a few failed attempts');
  t.equal(link.isConnected(), false);
  const broker = await startBroker({ port });
  t.teardown(() => broker.stop());
  await waitFor(() => link.isConnected(), 'connected after broker came up');
  const pub = await mqtt.connectAsync(broker.url);
  t.teardown(() => pub.endAsync(true));
  await pub.publishAsync('tpgw/G1/request/ping', '{"v":1}', { qos: 1 });
  await waitFor(() => got.length === 1, 'subscription active');
  t.same(got, ['tpgw/G1/request/ping={"v":1}']);
  await link.publish('tpgw/G1/x', 'y', { qos: 1, retain: false });

  // Broker restarts: the link comes back and subscribes again.
  await broker.stop();
  await waitFor(() => !link.isConnected(), 'disconnect seen');
  const broker2 = await startBroker({ port });
  t.teardown(() => broker2.stop());
  await waitFor(() => link.isConnected(), 'reconnected');
  const pub2 = await mqtt.connectAsync(broker2.url);
  t.teardown(() => pub2.endAsync(true));
  await pub2.publishAsync('tpgw/G1/request/sync/status', '{}', { qos: 1 });
  await waitFor(() => got.length === 2, 'subscription re-applied');
});

t.test('missing TLS file is a clear error at construction', async (t) => {
  t.throws(() => new MqttLink(linkOpts('mqtts://127.0.0.1:1', { caFile: '/nonexistent/ca.pem' })), /ENOENT/);
});

t.test('stop while the broker is down returns promptly and stops retrying', async (t) => {
  const port = await freePort();
  const link = new MqttLink(linkOpts(`mqtt://127.0.0.1:${port}`));
  link.start();
  await waitFor(() => link.status().reconnects >= 1, 'retrying');
  await link.stop();
  const attempts = link.status().reconnects;
  await new Promise((r) => setTimeout(r, 600));
  t.equal(link.status().reconnects, attempts, 'no attempt after stop');
  t.equal(link.isConnected(), false);
});

t.test('a broker without MQTT 5 (Aedes): the link falls back to 3.1.1 by itself', async (t) => {
  const broker = await startBroker({ embedded: true });
  t.teardown(() => broker.stop());
  const obs = await observer(broker.url, topics.status);
  t.teardown(() => obs.stop());
  const link = new MqttLink(linkOpts(broker.url, { protocolVersion: 5 }));
  t.teardown(() => link.stop());
  link.start();
  await waitFor(() => link.isConnected(), 'connected over 3.1.1', 10_000);
  t.equal(link.status().protocolVersion, 4, 'status says which protocol is in use');
  await waitFor(() => obs.seen.some((s) => s.state === 'online'), 'online status', 5000);
  t.pass('online status published over 3.1.1');
});
