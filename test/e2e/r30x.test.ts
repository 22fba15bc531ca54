// R30x fingerprint module end to end with every part real: the simulator speaking the packet
// protocol on a socat pseudo-terminal, `tpgw run` as a child process polling it, Mosquitto (Aedes
// when absent) and a center that acks batches. The center maps page 0 to a person over MQTT
// (`enrollments/set`); fingers are placed and lifted like a person at the door, the gateway is
// SIGKILLed once in the middle; the center must hold every touch exactly once under one id.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { startBroker } from '../helpers/broker.js';
import { ptyPair, socatMissing } from '../helpers/pty.js';
import { freePort } from '../helpers/free-port.js';
import { TestCenter } from '../helpers/center.js';
import { spawnGateway, stopGateway, waitHealthy, writeConfig, type GatewayProcess } from '../helpers/gateway-process.js';
import { R30xSimulator } from '../../drivers/sim/r30x-sim.js';
import { until } from '../helpers/until.js';

const TOKEN = 'r30x-e2e-token';
const GATEWAY = 'r30x-e2e';
const CLOCK = 'finger-door';

async function api(port: number, path: string): Promise<any> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  if (r.status !== 200) throw new Error(`${path}: HTTP ${r.status}`);
  return r.json();
}

/** The center's side of a request: publish on request/<name>, await the response with our transaction. */
class Requester {
  private n = 0;
  private readonly waiting = new Map<string, (msg: any) => void>();
  private constructor(private readonly client: MqttClient) {
    client.on('message', (_topic, payload) => {
      const msg = JSON.parse(payload.toString());
      this.waiting.get(String(msg.transaction))?.(msg);
    });
  }

  static async connect(url: string): Promise<Requester> {
    const client = await mqtt.connectAsync(url, { clientId: `center-requests-${process.pid}`, clean: true });
    await client.subscribeAsync(`tpgw/${GATEWAY}/response/#`, { qos: 1 });
    return new Requester(client);
  }

  async request(name: string, args: Record<string, unknown>): Promise<any> {
    const transaction = `tx-${++this.n}`;
    const answer = new Promise<any>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no response to ${name}`)), 10_000);
      this.waiting.set(transaction, (msg) => (clearTimeout(timer), this.waiting.delete(transaction), resolve(msg)));
    });
    await this.client.publishAsync(`tpgw/${GATEWAY}/request/${name}`, JSON.stringify({ v: 1, transaction, ...args }), { qos: 1 });
    return answer;
  }

  close(): Promise<void> {
    return this.client.endAsync();
  }
}

t.test('r30x module -> gateway -> broker -> acking center: one punch per touch, person from enrollments, survives SIGKILL', { skip: socatMissing, timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tpgw-r30x-e2e-'));
  const broker = await startBroker();
  const pty = await ptyPair();
  const httpPort = await freePort();
  const sim = await R30xSimulator.open(pty.peer);
  const center = new TestCenter(broker.url, GATEWAY);
  await center.start();
  const requester = await Requester.connect(broker.url);
  const events: { type: string; clock?: string }[] = [];
  const eventClient = await mqtt.connectAsync(broker.url, { clientId: `center-events-${process.pid}`, clean: true });
  eventClient.on('message', (_topic, payload) => events.push(JSON.parse(payload.toString())));
  await eventClient.subscribeAsync(`tpgw/${GATEWAY}/event`, { qos: 1 });
  let gw: GatewayProcess | null = null;
  t.teardown(async () => {
    if (gw) await stopGateway(gw, 'SIGKILL');
    await requester.close().catch(() => {});
    await eventClient.endAsync().catch(() => {});
    await center.stop().catch(() => {});
    await sim.close();
    await pty.close();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  // Two fingers are in the module's library; only page 0 will be mapped to a person.
  sim.enroll(0, 'finger-A');
  sim.enroll(1, 'finger-B');

  const configFile = writeConfig(dir, {
    gateway: { id: GATEWAY, dataDir: join(dir, 'data'), timeSync: 'synced' },
    center: { mqtt: { url: broker.url, reconnectMinMs: 200, reconnectMaxMs: 2000 }, ackTimeoutSeconds: 2 },
    sync: { batchMax: 50, lingerMs: 20, maxInflightBatches: 4 },
    http: { listen: `127.0.0.1:${httpPort}`, token: TOKEN },
    clocks: [{ id: CLOCK, driver: 'r30x', port: pty.device, pollMs: 40 }],
    log: { level: 'warn' },
  });
  const args = ['run', '--config', configFile];
  const clockConnected = async () => {
    try {
      return (await api(httpPort, '/api/status')).clocks?.[0]?.connected === true;
    } catch {
      return false;
    }
  };
  const start = async () => {
    gw = spawnGateway(args);
    await waitHealthy(httpPort, gw);
    await until('module handshake', clockConnected);
  };
  await start();

  // The center maps page 0 to a person; bad requests are refused and change nothing.
  const set = await requester.request('enrollments/set', { clock: CLOCK, page: 0, person: 'P-1001' });
  t.match(set, { v: 1, status: 'ok', data: { clock: CLOCK, page: 0, person: 'P-1001', previous: null } }, 'enrollments/set answers ok');
  const bad = await requester.request('enrollments/set', { clock: CLOCK, page: -1, person: 'P-9' });
  t.match(bad, { status: 'error', error: /page/ }, 'a negative page is rejected with a reason');
  const noPerson = await requester.request('enrollments/set', { clock: CLOCK, page: 1 });
  t.match(noPerson, { status: 'error', error: /person/ }, 'a missing person is rejected with a reason');
  const unknownClock = await requester.request('enrollments/set', { clock: 'no-such-clock', page: 1, person: 'P-9' });
  t.match(unknownClock, { status: 'error', error: /no clock "no-such-clock"/ }, 'an unconfigured clock is rejected');
  const listed = await requester.request('enrollments/list', { clock: CLOCK });
  t.match(listed.data, { clock: CLOCK, enrollments: [{ page: 0, person: 'P-1001' }] });
  t.equal(listed.data.enrollments.length, 1, 'only the valid request changed the enrollments');

  const storedCount = async () => (await api(httpPort, '/api/punches?limit=1000')).count as number;
  const received = (name: string) => sim.received.get(name) ?? 0;
  let expected = 0;
  /**
   * One touch: place the finger, wait until the driver has searched it (and, for an enrolled
   * finger, until the punch is stored), lift it and wait until the driver has seen the empty
   * sensor, so the next touch is a new one.
   */
  const touch = async (finger: string, opts: { liftAfter?: 'now' | 'later' } = {}) => {
    const searches = received('search');
    sim.placeFinger(finger);
    await until(`search for ${finger}`, () => received('search') > searches);
    if (finger !== 'unknown') {
      expected++;
      await until(`punch ${expected} stored`, async () => (await storedCount()) >= expected);
    }
    if (opts.liftAfter === 'later') return;
    sim.liftFinger();
    const polls = received('genImg');
    await until('lift seen', () => received('genImg') >= polls + 2);
  };

  const plan = ['finger-A', 'finger-B', 'unknown', 'finger-A', 'finger-A', 'finger-B', 'finger-A', 'unknown', 'finger-B', 'finger-A'];
  for (const [i, finger] of plan.entries()) {
    if (i === 4) {
      // SIGKILL with a stored touch's finger still on the sensor: the person lifts it while the
      // gateway is down, so the restarted driver (which forgot it was waiting for a lift) must
      // not see it again — and nothing already committed may be lost or sent twice.
      await touch(finger, { liftAfter: 'later' });
      gw!.child.kill('SIGKILL');
      await gw!.exited;
      sim.liftFinger();
      await start();
      continue;
    }
    await touch(finger);
  }
  t.equal(expected, 8, 'the plan holds 8 identifiable touches');

  // Let the uplink drain, then check the books on both sides.
  let stats: any;
  await until(
    'uplink drained',
    async () => {
      stats = (await api(httpPort, '/api/status')).sync.attendance;
      return stats.pending === 0 && stats.inflight === 0 && center.byId.size >= 8;
    },
    30_000,
  );
  t.equal(await storedCount(), 8, 'the gateway stored exactly 8 punches');
  t.equal(stats.lastSeq, 8, 'no sequence number was used for anything else');
  t.equal(stats.pending + stats.inflight, 0, 'zero pending');
  const ids = [...center.byId.keys()].sort((a, b) => Number(a.split(':')[1]) - Number(b.split(':')[1]));
  t.same(ids, Array.from({ length: 8 }, (_, i) => `${GATEWAY}:${i + 1}`), 'center holds ids 1..8, gap-free, once each after dedupe');
  const recs = ids.map((id) => center.byId.get(id)!);
  const a = recs.filter((r) => r.user === '0');
  const b = recs.filter((r) => r.user === '1');
  t.equal(a.length, 5, 'finger A: 5 punches');
  t.equal(b.length, 3, 'finger B: 3 punches');
  t.ok(a.every((r) => r.person === 'P-1001'), 'finger A carries person P-1001 (also after the restart: enrollments are in SQLite)');
  t.ok(b.every((r) => r.person === undefined || r.person === null), 'finger B has no person (page 1 is not mapped)');
  t.ok(recs.every((r) => r.verify === 'fingerprint' && r.clock === CLOCK && r.clockSynced === true), 'verify fingerprint, clock id, clockSynced');
  t.same(
    recs.map((r) => r.user),
    plan.filter((f) => f !== 'unknown').map((f) => (f === 'finger-A' ? '0' : '1')),
    'punches in touch order',
  );
  t.match(recs[0].extra, { page: 0, score: 120 }, 'page and match score travel in extra');

  // The mapping can be removed again; the module kept its templates throughout.
  const removed = await requester.request('enrollments/remove', { clock: CLOCK, page: 0 });
  t.match(removed, { status: 'ok', data: { clock: CLOCK, page: 0, removed: true } });
  t.same((await requester.request('enrollments/list', { clock: CLOCK })).data.enrollments, [], 'list is empty after remove');
  t.same([...sim.library.keys()].sort(), [0, 1]);
  t.ok(events.some((e) => e.type === 'clock-online' && e.clock === CLOCK), 'clock-online event published');

  await stopGateway(gw!);
  t.equal((await gw!.exited).code, 0, 'SIGTERM stops the gateway with exit code 0');
  gw = null;
});
