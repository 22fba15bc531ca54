// The MQTT link over real TLS: a real Mosquitto with a TLS listener, certificates made by the
// openssl CLI for this run. Server authentication with the CA file, mutual TLS with a client
// certificate, refusals (no client certificate, wrong CA) that must be reported and retried with
// backoff without crashing or logging secrets, and the TLS file checks done at construction.
import t, { type Test } from 'tap';
import mqtt, { type MqttClient } from 'mqtt';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { startTlsBroker, tlsBrokerMissing, type TestTlsBroker } from '../helpers/broker.js';
import { makeTlsMaterial, opensslMissing, type TlsMaterial } from '../helpers/tls-certs.js';
import { MqttLink, TlsConfigError, type MqttLinkOptions } from '../../sync/mqtt/link.js';
import type { SyncLogger } from '../../sync/logger.js';
import { which } from '../helpers/which.js';
import { waitFor } from './center.js';
import { linkOpts, topics } from './link-options.js';

const PASSWORD = 'hunter2-tls';
const noOpenssl = opensslMissing();
const noBroker = noOpenssl || tlsBrokerMissing();

// One set of certificates for the whole file (a few openssl runs); none when openssl is absent.
const m: TlsMaterial | null = noOpenssl ? null : await makeTlsMaterial({ clientName: 'tpgw-G1' });
t.teardown(() => m?.cleanup());
const tls = () => m!;

interface LogLine {
  level: string;
  obj: Record<string, unknown>;
  msg?: string;
}

function captureLogger(): { logger: SyncLogger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: string) => (obj: object, msg?: string) => lines.push({ level, obj: { ...obj } as Record<string, unknown>, msg });
  return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines };
}

/** A plain mqtt.js client over TLS playing the center: trusts our CA, optionally has a cert. */
async function center(url: string, opts: { protocolVersion: 4 | 5; clientCert?: boolean }) {
  const c: MqttClient = await mqtt.connectAsync(url, {
    clientId: `center-${Math.random().toString(16).slice(2)}`,
    protocolVersion: opts.protocolVersion,
    reconnectPeriod: 0,
    ca: readFileSync(tls().caCert),
    ...(opts.clientCert ? { cert: readFileSync(tls().clientCert), key: readFileSync(tls().clientKey) } : {}),
  });
  const got: { topic: string; payload: string }[] = [];
  c.on('message', (topic, payload) => got.push({ topic, payload: payload.toString() }));
  await c.subscribeAsync('tpgw/G1/#', { qos: 1 });
  return { client: c, got, stop: () => c.endAsync(true) };
}

async function tlsBroker(t: Test, opts: { mutual: boolean }): Promise<TestTlsBroker> {
  const b = await startTlsBroker({
    caFile: tls().caCert,
    certFile: tls().serverCert,
    keyFile: tls().serverKey,
    requireCertificate: opts.mutual,
    useIdentityAsUsername: opts.mutual,
  });
  t.teardown(() => b.stop());
  return b;
}

/** The socket under the link's current mqtt.js client (private: what TLS actually negotiated). */
function linkSocket(link: MqttLink): TLSSocket | undefined {
  const stream = (link as unknown as { client: { stream: unknown } | null }).client?.stream;
  return stream instanceof TLSSocket ? stream : undefined;
}

/** Publishes one batch up and one ack down through the broker; checks both arrive intact. */
async function roundTrip(t: Test, link: MqttLink, ctr: Awaited<ReturnType<typeof center>>, batch: string) {
  const acks: string[] = [];
  link.on('message', (topic, payload) => topic === topics.ack('attendance') && acks.push(payload.toString()));
  const up = JSON.stringify({ v: 1, batch, records: [] });
  await link.publish(topics.stream('attendance'), up, { qos: 1, retain: false });
  await waitFor(() => ctr.got.some((g) => g.topic === topics.stream('attendance') && g.payload === up), `batch ${batch} at the center`);
  // The link subscribes right after CONNACK; until the broker has that SUBSCRIBE an ack is
  // dropped, so the center repeats it (acks are idempotent) until the gateway has one.
  const down = JSON.stringify({ v: 1, batch });
  const deadline = Date.now() + 20_000;
  while (!acks.includes(down)) {
    if (Date.now() > deadline) throw new Error(`ack ${batch} never reached the gateway`);
    await ctr.client.publishAsync(topics.ack('attendance'), down, { qos: 1 });
    await waitFor(() => acks.includes(down), `ack ${batch}`, 200).catch(() => {});
  }
  t.pass(`batch ${batch} up and its ack down through the TLS broker`);
}

for (const protocolVersion of [5, 4] as const) {
  t.test(`server-authenticated TLS with the CA file, MQTT ${protocolVersion === 5 ? '5' : '3.1.1'}`, { skip: noBroker }, async (t) => {
    const broker = await tlsBroker(t, { mutual: false });
    const ctr = await center(broker.url, { protocolVersion });
    t.teardown(() => ctr.stop());
    const { logger, lines } = captureLogger();
    const link = new MqttLink(linkOpts(broker.url, { caFile: tls().caCert, protocolVersion, username: 'gw', password: PASSWORD, logger }));
    t.teardown(() => link.stop());
    link.subscribe(topics.ack('attendance'));
    link.start();
    await waitFor(() => link.isConnected(), 'connected over TLS');

    t.match(link.status(), { connected: true, url: broker.url, protocolVersion, lastError: null, reconnects: 0 });
    const sock = linkSocket(link);
    t.ok(sock, 'the link talks over a TLS socket');
    t.equal(sock?.authorized, true, 'the server certificate was verified against the CA file');
    t.equal(sock?.getPeerCertificate().subject?.CN, 'localhost', 'and it is our server certificate');

    await waitFor(() => ctr.got.some((g) => g.topic === topics.status && JSON.parse(g.payload).state === 'online'), 'online status');
    t.ok(lines.some((l) => l.level === 'info' && l.msg === 'mqtt: connected'), 'connect logged');
    await roundTrip(t, link, ctr, `b-${protocolVersion}`);

    await link.stop();
    await waitFor(() => ctr.got.some((g) => g.topic === topics.status && JSON.parse(g.payload).state === 'offline'), 'offline status on stop');
    t.notMatch(JSON.stringify({ lines, status: link.status() }), PASSWORD, 'the password is in no log line and not in the status');
  });

  t.test(`mutual TLS: the client certificate is the identity, MQTT ${protocolVersion === 5 ? '5' : '3.1.1'}`, { skip: noBroker }, async (t) => {
    // require_certificate + use_identity_as_username, anonymous refused: connecting at all
    // proves the broker verified our certificate and took its CN as the username.
    const broker = await tlsBroker(t, { mutual: true });
    const ctr = await center(broker.url, { protocolVersion, clientCert: true });
    t.teardown(() => ctr.stop());
    const link = new MqttLink(
      linkOpts(broker.url, { caFile: tls().caCert, certFile: tls().clientCert, keyFile: tls().clientKey, protocolVersion }),
    );
    t.teardown(() => link.stop());
    link.subscribe(topics.ack('attendance'));
    link.start();
    await waitFor(() => link.isConnected(), 'connected with the client certificate');
    t.match(link.status(), { connected: true, protocolVersion, lastError: null });
    await waitFor(() => ctr.got.some((g) => g.topic === topics.status && JSON.parse(g.payload).state === 'online'), 'online status');
    await roundTrip(t, link, ctr, `m-${protocolVersion}`);
  });
}

t.test('mutual TLS without a client certificate: refused, retried with backoff, no crash, no secrets logged', { skip: noBroker }, async (t) => {
  const broker = await tlsBroker(t, { mutual: true });
  const { logger, lines } = captureLogger();
  const link = new MqttLink(linkOpts(broker.url, { caFile: tls().caCert, username: 'gw', password: PASSWORD, logger }));
  t.teardown(() => link.stop());
  let connects = 0;
  link.on('connected', () => connects++);
  link.start();
  await waitFor(() => link.status().reconnects >= 4, 'several refused attempts');
  t.equal(connects, 0, 'never connected');
  t.equal(link.isConnected(), false);
  t.match(link.status().lastError, /certificate required|handshake failure|ECONNRESET|EPIPE/i, 'the refusal is in the status');
  t.ok(lines.some((l) => l.level === 'warn' && l.msg === 'mqtt: connection error' && typeof l.obj.err === 'string'), 'and in the log');

  // Backoff: attempt i waits between min*2^i/2 and min*2^i (capped), jitter inside that band.
  const delays = lines.filter((l) => l.msg === 'mqtt: reconnect scheduled').map((l) => l.obj.delayMs as number);
  t.ok(delays.length >= 4, 'each refusal schedules the next attempt');
  delays.slice(0, 4).forEach((d, i) => {
    const exp = Math.min(400, 50 * 2 ** i);
    t.ok(d >= exp / 2 && d <= exp, `delay ${i} = ${d} ms within [${exp / 2}, ${exp}]`);
  });

  const keyBody = readFileSync(tls().clientKey, 'utf8').split('\n')[1];
  const said = JSON.stringify({ lines, status: link.status() });
  t.notMatch(said, PASSWORD, 'no password in logs or status');
  t.notMatch(said, /BEGIN|PRIVATE KEY/, 'no PEM text in logs or status');
  t.notOk(said.includes(keyBody), 'no key material in logs or status');
  await link.stop();
  const after = link.status().reconnects;
  await new Promise((r) => setTimeout(r, 500));
  t.equal(link.status().reconnects, after, 'stop() ends the retrying');
});

t.test('wrong CA: certificate verification refuses the broker, the error is reported', { skip: noBroker }, async (t) => {
  const broker = await tlsBroker(t, { mutual: false });
  const { logger, lines } = captureLogger();
  const link = new MqttLink(linkOpts(broker.url, { caFile: tls().otherCaCert, logger }));
  t.teardown(() => link.stop());
  link.start();
  await waitFor(() => link.status().reconnects >= 2, 'refused attempts');
  t.equal(link.isConnected(), false);
  const verify = /self[- ]signed|unable to (get local issuer|verify)|certificate/i;
  t.match(link.status().lastError, verify, 'status names the certificate problem');
  const warn = lines.find((l) => l.msg === 'mqtt: connection error');
  t.match(warn?.obj, { err: verify, url: broker.url }, 'the log names it too, with the URL');
  const perAttempt = lines.filter((l) => l.msg === 'mqtt: connection error').length;
  t.ok(perAttempt <= link.status().reconnects + 1, 'one error line per attempt, not two');

  // Without any CA file the system CAs apply: our throwaway CA is not one of them.
  const sys = new MqttLink(linkOpts(broker.url));
  t.teardown(() => sys.stop());
  sys.start();
  await waitFor(() => sys.status().lastError !== null, 'refused with system CAs');
  t.match(sys.status().lastError, verify);
  t.equal(sys.isConnected(), false);

  // rejectUnauthorized: false skips verification (the documented escape hatch, testing only).
  const lax = new MqttLink(linkOpts(broker.url, { caFile: tls().otherCaCert, rejectUnauthorized: false }));
  t.teardown(() => lax.stop());
  lax.start();
  await waitFor(() => lax.isConnected(), 'connected without verification');
  t.equal(linkSocket(lax)?.authorized, false, 'encrypted but not authenticated');
});

/** The client key encrypted by openssl: PKCS#8 ("BEGIN ENCRYPTED PRIVATE KEY") or traditional EC ("Proc-Type: 4,ENCRYPTED"). */
function encryptedClientKey(format: 'pkcs8' | 'traditional', passphrase: string): string {
  const out = join(tls().dir, `client-${format}.enc.key`);
  const args =
    format === 'pkcs8'
      ? ['pkcs8', '-topk8', '-v2', 'aes-256-cbc', '-in', tls().clientKey, '-out', out, '-passout', `pass:${passphrase}`]
      : ['ec', '-aes256', '-in', tls().clientKey, '-out', out, '-passout', `pass:${passphrase}`];
  execFileSync(which('openssl')!, args, { stdio: 'ignore' });
  return out;
}

const PASSPHRASE = 'correct horse battery staple';

for (const format of ['pkcs8', 'traditional'] as const) {
  t.test(`mutual TLS with an encrypted client key (${format}) and center.mqtt.keyPassphrase`, { skip: noBroker }, async (t) => {
    const keyFile = encryptedClientKey(format, PASSPHRASE);
    t.match(readFileSync(keyFile, 'latin1'), /ENCRYPTED/, 'the key file is encrypted');
    const broker = await tlsBroker(t, { mutual: true });
    const ctr = await center(broker.url, { protocolVersion: 5, clientCert: true });
    t.teardown(() => ctr.stop());
    const { logger, lines } = captureLogger();
    const link = new MqttLink(linkOpts(broker.url, { caFile: tls().caCert, certFile: tls().clientCert, keyFile, keyPassphrase: PASSPHRASE, logger }));
    t.teardown(() => link.stop());
    link.subscribe(topics.ack('attendance'));
    link.start();
    await waitFor(() => link.isConnected(), 'connected with the decrypted client key');
    await roundTrip(t, link, ctr, `enc-${format}`);
    t.notMatch(JSON.stringify({ lines, status: link.status() }), PASSPHRASE, 'the passphrase is in no log line and not in the status');
  });
}

t.test('TLS files are checked at construction: clear errors naming the config key', { skip: noOpenssl }, async (t) => {
  const url = 'mqtts://127.0.0.1:1';
  const fails = (over: Partial<MqttLinkOptions>, key: string, why: RegExp, what: string) => {
    try {
      new MqttLink(linkOpts(url, over));
      t.fail(`${what}: no error`);
    } catch (err) {
      t.ok(err instanceof TlsConfigError, `${what}: a TlsConfigError`);
      t.equal((err as TlsConfigError).key, key, `${what}: names ${key}`);
      t.match((err as Error).message, why, what);
      t.notMatch((err as Error).message, /BEGIN|PRIVATE KEY/, `${what}: no PEM text in the message`);
    }
  };
  const dir = tls().dir;
  fails({ caFile: join(dir, 'nope.pem') }, 'center.mqtt.ca', /^center\.mqtt\.ca: cannot read .*nope\.pem \(ENOENT/, 'missing CA file');
  fails({ caFile: dir }, 'center.mqtt.ca', /EISDIR/, 'CA path is a directory');
  fails({ caFile: tls().clientKey }, 'center.mqtt.ca', /holds no PEM certificate/, 'a key given as the CA');
  fails({ certFile: tls().clientCert }, 'center.mqtt.key', /required when center\.mqtt\.cert is set/, 'cert without key');
  fails({ keyFile: tls().clientKey }, 'center.mqtt.cert', /required when center\.mqtt\.key is set/, 'key without cert');
  fails({ certFile: join(dir, 'nope.pem'), keyFile: tls().clientKey }, 'center.mqtt.cert', /ENOENT/, 'missing cert file');
  fails({ certFile: tls().clientCert, keyFile: join(dir, 'nope.key') }, 'center.mqtt.key', /ENOENT/, 'missing key file');
  fails({ certFile: tls().clientCert, keyFile: tls().clientCert }, 'center.mqtt.key', /not a PEM private key/, 'the certificate given as the key');
  fails({ certFile: tls().clientCert, keyFile: tls().serverKey }, 'center.mqtt.key', /not the private key of the certificate/, 'a key of another certificate');
  const encrypted = encryptedClientKey('pkcs8', PASSPHRASE);
  fails({ certFile: tls().clientCert, keyFile: encrypted }, 'center.mqtt.keyPassphrase', /required: .* is an encrypted private key/, 'an encrypted key, no passphrase');
  fails({ certFile: tls().clientCert, keyFile: encrypted, keyPassphrase: 'wrong' }, 'center.mqtt.keyPassphrase', /does not decrypt/, 'the wrong passphrase');
  const pem = readFileSync(tls().clientKey, 'utf8');
  fails({ certFile: tls().clientCert, keyFile: pem }, 'center.mqtt.key', /must be the path of a PEM file, not PEM text/, 'PEM text where a path belongs');

  // The good files pass, and TLS files on a plain URL are a loud warning, not silence.
  const { logger, lines } = captureLogger();
  new MqttLink(linkOpts('mqtt://127.0.0.1:1', { caFile: tls().caCert, certFile: tls().clientCert, keyFile: tls().clientKey, logger }));
  t.match(lines, [{ level: 'warn', msg: /NOT encrypted/ }], 'plain mqtt:// with TLS files is warned about');
  lines.length = 0;
  new MqttLink(linkOpts(url, { caFile: tls().caCert, certFile: tls().clientCert, keyFile: tls().clientKey, logger }));
  t.same(lines, [], 'no warning for mqtts://');
});
