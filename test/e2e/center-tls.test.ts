// `tpgw run` against a center that only speaks mutual TLS: the real composition reads
// center.mqtt.{url,ca,cert,key}, a line clock on a socat pty produces punches, a TLS center
// receives the attendance batches, acks them, and the gateway then has nothing pending (seen on
// /api/status and through the sync/status request, which also travels over TLS).
import t from 'tap';
import mqtt from 'mqtt';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTlsBroker, tlsBrokerMissing } from '../helpers/broker.js';
import { makeTlsMaterial, opensslMissing } from '../helpers/tls-certs.js';
import { ptyPair, socatMissing } from '../helpers/pty.js';
import { freePort } from '../helpers/free-port.js';
import { which } from '../helpers/which.js';
import { spawnGateway, stopGateway, waitHealthy, writeConfig } from '../helpers/gateway-process.js';

const TOKEN = 'e2e-tls-token';
const GW = 'e2e-tls';
const skip = opensslMissing() || tlsBrokerMissing() || socatMissing;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function api(port: number, path: string): Promise<any> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  if (r.status !== 200) throw new Error(`${path}: HTTP ${r.status}`);
  return r.json();
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

t.test('tpgw run over mutual TLS: punches reach the TLS center, acks settle them', { skip, timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tpgw-e2e-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const tls = await makeTlsMaterial({ clientName: `tpgw-${GW}` });
  t.teardown(() => tls.cleanup());
  const broker = await startTlsBroker({
    caFile: tls.caCert,
    certFile: tls.serverCert,
    keyFile: tls.serverKey,
    requireCertificate: true,
    useIdentityAsUsername: true,
  });
  t.teardown(() => broker.stop());
  const pty = await ptyPair();
  t.teardown(() => pty.close());
  const httpPort = await freePort();
  const configFile = writeConfig(dir, {
    gateway: { id: GW, dataDir: join(dir, 'data'), timeSync: 'synced' },
    center: {
      mqtt: { url: broker.url, ca: tls.caCert, cert: tls.clientCert, key: tls.clientKey, reconnectMinMs: 200, reconnectMaxMs: 2000 },
      // Long: the center acks by hand below, and a re-send must not blur what is counted.
      ackTimeoutSeconds: 60,
    },
    sync: { batchMax: 50, lingerMs: 20, maxInflightBatches: 4 },
    http: { listen: `127.0.0.1:${httpPort}`, token: TOKEN },
    clocks: [{ id: 'door', driver: 'line', port: pty.device, baudRate: 115200, timezone: 'Asia/Shanghai' }],
    log: { level: 'warn' },
  });

  // The center: mutual TLS like the gateway, collecting batches without acking them yet.
  const center = await mqtt.connectAsync(broker.url, {
    clientId: `center-${process.pid}`,
    reconnectPeriod: 0,
    ca: readFileSync(tls.caCert),
    cert: readFileSync(tls.clientCert),
    key: readFileSync(tls.clientKey),
  });
  t.teardown(() => center.endAsync(true));
  const batches: { batch: string; records: { id: string; user: string; clock: string }[] }[] = [];
  const responses: any[] = [];
  const statuses: any[] = [];
  center.on('message', (topic, payload) => {
    const msg = JSON.parse(payload.toString());
    if (topic === `tpgw/${GW}/attendance`) batches.push(msg);
    else if (topic === `tpgw/${GW}/response/sync/status`) responses.push(msg);
    else if (topic === `tpgw/${GW}/status`) statuses.push(msg);
  });
  await center.subscribeAsync([`tpgw/${GW}/attendance`, `tpgw/${GW}/response/sync/status`, `tpgw/${GW}/status`], { qos: 1 });

  const gw = spawnGateway(['run', '--config', configFile]);
  t.teardown(() => stopGateway(gw, 'SIGKILL'));
  await waitHealthy(httpPort, gw);
  await until('clock open', async () => ((await api(httpPort, '/api/status')).clocks?.[0]?.connected === true ? true : undefined));
  const mqttStatus = await until('gateway connected to the TLS broker', async () => {
    const s = (await api(httpPort, '/api/status')).mqtt;
    return s?.connected ? s : undefined;
  });
  t.match(mqttStatus, { url: broker.url, lastError: null }, 'connected over mqtts:// with ca/cert/key from the config');
  await until('online status', () => (statuses.some((s) => s.state === 'online') ? true : undefined));

  const users = ['U00001', 'U00002', 'U00003'];
  for (const [i, user] of users.entries()) {
    await writeFile(pty.peer, `${user},2026-12-04 08:00:0${i + 1},fingerprint\r\n`);
  }
  const ids = () => new Set(batches.flatMap((b) => b.records.map((r) => r.id)));
  await until('all punches at the center', () => (ids().size >= users.length ? true : undefined));
  t.same([...ids()].sort(), users.map((_, i) => `${GW}:${i + 1}`), 'every punch arrived over TLS, with gateway record ids');
  t.same(new Set(batches.flatMap((b) => b.records.map((r) => r.user))), new Set(users), 'the users punched on the clock');
  t.ok(batches.every((b) => b.records.every((r) => r.clock === 'door')), 'from the configured clock');

  const before = (await api(httpPort, '/api/status')).sync.attendance;
  t.equal(before.pending + before.inflight, users.length, 'unacked: the gateway still holds every punch');

  for (const b of batches) await center.publishAsync(`tpgw/${GW}/attendance/ack`, JSON.stringify({ v: 1, batch: b.batch }), { qos: 1 });
  const after = await until('settled after the acks', async () => {
    const s = (await api(httpPort, '/api/status')).sync.attendance;
    return s.pending === 0 && s.inflight === 0 ? s : undefined;
  });
  t.match(after, { pending: 0, inflight: 0, settled: users.length }, '/api/status: nothing pending once the center acked');

  // The same answer through the sync/status request, which also crosses the TLS link.
  await center.publishAsync(`tpgw/${GW}/request/sync/status`, JSON.stringify({ v: 1, transaction: 'tls-1' }), { qos: 1 });
  const resp = await until('sync/status response', () => responses.find((r) => r.transaction === 'tls-1'));
  t.match(resp, { v: 1, status: 'ok', data: { streams: { attendance: { pending: 0, inflight: 0, settled: users.length } } } }, 'sync/status over TLS: nothing pending');

  await stopGateway(gw);
  t.equal((await gw.exited).code, 0, 'SIGTERM stops the gateway cleanly');
  await until('offline status', () => (statuses.at(-1)?.state === 'offline' ? true : undefined), 10_000);
  t.notMatch(gw.output(), /BEGIN|PRIVATE KEY/, 'no PEM text in the gateway output');
});

t.test('tpgw run with a missing CA file: a start error naming center.mqtt.ca, no retry loop', { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tpgw-e2e-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const httpPort = await freePort();
  const configFile = writeConfig(dir, {
    gateway: { id: GW, dataDir: join(dir, 'data'), timeSync: 'synced' },
    center: { mqtt: { url: 'mqtts://127.0.0.1:8883', ca: join(dir, 'missing-ca.pem') } },
    http: { listen: `127.0.0.1:${httpPort}`, token: TOKEN },
    log: { level: 'warn' },
  });
  const gw = spawnGateway(['run', '--config', configFile]);
  t.teardown(() => stopGateway(gw, 'SIGKILL'));
  let timer: NodeJS.Timeout | undefined;
  const exit = await Promise.race([gw.exited, new Promise<null>((r) => (timer = setTimeout(() => r(null), 45_000)))]);
  clearTimeout(timer);
  t.ok(exit, 'the gateway exits by itself');
  t.equal(exit?.code, 2, 'exit 2: bad configuration (systemd does not restart it)');
  t.match(gw.output(), /center\.mqtt\.ca: cannot read .*missing-ca\.pem \(ENOENT/, 'the error names the key and the file');
  t.notOk(existsSync(join(dir, 'data')), 'the data directory was never touched');
  // `tpgw config check` (run by the unit before start) catches it too.
  const check = spawnGateway(['config', 'check', configFile]);
  t.equal((await check.exited).code, 2);
  t.match(check.output(), /center\.mqtt\.ca: cannot read/);
});

t.test('tpgw config check with an encrypted client key: needs center.mqtt.keyPassphrase, and the right one', { skip: opensslMissing(), timeout: 60_000 }, async (t) => {
  const tls = await makeTlsMaterial({ clientName: `tpgw-${GW}` });
  t.teardown(() => tls.cleanup());
  const keyFile = join(tls.dir, 'client.enc.key');
  execFileSync(which('openssl')!, ['pkcs8', '-topk8', '-v2', 'aes-256-cbc', '-in', tls.clientKey, '-out', keyFile, '-passout', 'pass:s3cret-phrase'], { stdio: 'ignore' });
  const check = async (keyPassphrase?: string) => {
    const configFile = writeConfig(tls.dir, {
      gateway: { id: GW, dataDir: join(tls.dir, 'data') },
      center: { mqtt: { url: 'mqtts://127.0.0.1:8883', ca: tls.caCert, cert: tls.clientCert, key: keyFile, ...(keyPassphrase ? { keyPassphrase } : {}) } },
    });
    const gw = spawnGateway(['config', 'check', configFile]);
    return { code: (await gw.exited).code, output: gw.output() };
  };
  const none = await check();
  t.equal(none.code, 2, 'no passphrase: a configuration error');
  t.match(none.output, /center\.mqtt\.keyPassphrase: required: .*client\.enc\.key is an encrypted private key/);
  const wrong = await check('not-it');
  t.equal(wrong.code, 2, 'the wrong passphrase: a configuration error');
  t.match(wrong.output, /center\.mqtt\.keyPassphrase: does not decrypt/);
  t.notMatch(wrong.output, /not-it/, 'the passphrase is not echoed');
  const right = await check('s3cret-phrase');
  t.equal(right.code, 0, 'the right passphrase: the configuration is usable');
  t.notMatch(right.output, /s3cret-phrase/, 'and not printed');
});
