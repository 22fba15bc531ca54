// The MQTT client factory: plain TCP and TLS URLs get a client on a node:net / node:tls stream
// (without loading mqtt.js's other transports); every other URL goes through mqtt.connect().
// TLS over this path is exercised against a real Mosquitto TLS listener in link-tls.test.ts.
import t, { type Test } from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { MqttClient } from 'mqtt';
import { startBroker } from '../helpers/broker.js';
import { createMqttClient, directEndpoint } from '../../sync/mqtt/client-factory.js';

t.test('which URLs get a direct stream, and to where', async (t) => {
  t.same(directEndpoint('mqtt://broker.example.org'), { transport: 'tcp', host: 'broker.example.org', port: 1883 });
  t.same(directEndpoint('tcp://10.0.0.5:11883'), { transport: 'tcp', host: '10.0.0.5', port: 11883 });
  t.same(directEndpoint('mqtts://center.example.org'), { transport: 'tls', host: 'center.example.org', port: 8883 });
  t.same(directEndpoint('SSL://center.example.org:443/'), { transport: 'tls', host: 'center.example.org', port: 443 });
  t.same(directEndpoint('mqtt://[::1]:1884'), { transport: 'tcp', host: '::1', port: 1884 }, 'IPv6 literal without brackets');
  t.equal(directEndpoint('ws://center.example.org/mqtt'), null, 'WebSocket: mqtt.connect()');
  t.equal(directEndpoint('wss://center.example.org/mqtt'), null);
  t.equal(directEndpoint('mqtt://user:secret@center.example.org'), null, 'credentials in the URL: mqtt.js parses them');
  t.equal(directEndpoint('mqtt://center.example.org?clientId=x'), null, 'query options: mqtt.js parses them');
  t.equal(directEndpoint('mqtt://center.example.org', { MQTTJS_SOCKS_PROXY: 'socks5://127.0.0.1:1080' }), null, 'SOCKS proxy: mqtt.js');
  t.equal(directEndpoint('not a url'), null);
});

async function roundTrip(t: Test, client: MqttClient, topic: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  await client.subscribeAsync(topic, { qos: 1 });
  const got = new Promise<string>((resolve) => client.once('message', (_t, p) => resolve(p.toString())));
  await client.publishAsync(topic, 'hello', { qos: 1 });
  t.equal(await got, 'hello', 'published and received back at QoS 1');
  await client.endAsync();
}

t.test('mqtt:// to a real broker: connects, publishes, receives', async (t) => {
  const broker = await startBroker();
  t.teardown(() => broker.stop());
  const client = createMqttClient(broker.url, { clientId: 'factory-tcp', protocolVersion: 5, reconnectPeriod: 0 });
  await roundTrip(t, client, 'factory/tcp');
});

t.test('a refused connection is reported as an error with its code', async (t) => {
  const broker = await startBroker();
  const url = broker.url;
  await broker.stop();
  const client = createMqttClient(url, { clientId: 'factory-refused', reconnectPeriod: 0, connectTimeout: 5000 });
  const err = await new Promise<Error & { code?: unknown }>((resolve) => client.once('error', resolve));
  t.equal(err.code, 'ECONNREFUSED');
  client.end(true);
});

t.test('ws:// goes through mqtt.connect() and works', async (t) => {
  // An embedded Aedes broker behind a WebSocket server (Debian's Mosquitto cannot open a
  // websockets listener here).
  const { Aedes } = await import('aedes');
  const aedes = await Aedes.createBroker();
  const http = createServer();
  const wss = new WebSocketServer({ server: http });
  wss.on('connection', (ws) => aedes.handle(createWebSocketStream(ws) as never));
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        wss.close();
        aedes.close(() => http.close(() => resolve()));
      }),
  );
  const { port } = http.address() as AddressInfo;
  const client = createMqttClient(`ws://127.0.0.1:${port}`, { clientId: 'factory-ws', reconnectPeriod: 0 });
  await roundTrip(t, client, 'factory/ws');
});
