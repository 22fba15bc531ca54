// ZK terminal end to end with every part real: the simulator on loopback TCP, `tpgw run` as a child
// process, Mosquitto (Aedes when absent) and a center that acks batches. A log filled before the
// gateway came, realtime punches while it runs, a SIGKILL in the middle, downloads every second:
// the center must hold every punch exactly once under one id, and the terminal's log is cleared
// only after all of it is settled.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker } from '../helpers/broker.js';
import { freePort } from '../helpers/free-port.js';
import { TestCenter } from '../helpers/center.js';
import { spawnGateway, stopGateway, waitHealthy, writeConfig, type GatewayProcess } from '../helpers/gateway-process.js';
import { ZkSim } from '../../drivers/sim/zk-sim.js';
import { records, waitFor } from './zk-helpers.js';

const TOKEN = 'zk-e2e-token';

async function api(port: number, path: string): Promise<any> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  if (r.status !== 200) throw new Error(`${path}: HTTP ${r.status}`);
  return r.json();
}

t.test('zk terminal -> gateway -> broker -> acking center: each punch once, log cleared when settled', { timeout: 180_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tpgw-zk-e2e-'));
  const broker = await startBroker();
  const sim = new ZkSim({ serialNumber: 'E2E0000001', timeZone: 'Asia/Shanghai', clockOffsetSeconds: -600, commKey: 9876 });
  const simPort = await sim.start();
  const httpPort = await freePort();
  const gatewayId = 'zk-e2e';
  const center = new TestCenter(broker.url, gatewayId);
  await center.start();
  let gw: GatewayProcess | null = null;
  t.teardown(async () => {
    if (gw) await stopGateway(gw, 'SIGKILL');
    await center.stop().catch(() => {});
    await sim.stop();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const before = records(300, (i) => `OFFLINE-STUDENT-${String(i).padStart(5, '0')}`);
  sim.fill(before);
  const configFile = writeConfig(dir, {
    gateway: { id: gatewayId, dataDir: join(dir, 'data'), timeSync: 'synced' },
    center: { mqtt: { url: broker.url, reconnectMinMs: 200, reconnectMaxMs: 2000 }, ackTimeoutSeconds: 2 },
    sync: { batchMax: 50, lingerMs: 20, maxInflightBatches: 4 },
    http: { listen: `127.0.0.1:${httpPort}`, token: TOKEN },
    clocks: [
      {
        id: 'zkdoor',
        driver: 'zk',
        host: '127.0.0.1',
        port: simPort,
        transport: 'tcp',
        commKey: 9876,
        timezone: 'Asia/Shanghai',
        pollSeconds: 1,
        syncTime: true,
        clearLogWhenSettled: true,
        timeoutMs: 2000,
      },
    ],
    log: { level: 'warn' },
  });
  const args = ['run', '--config', configFile];
  gw = spawnGateway(args);
  await waitHealthy(httpPort, gw);

  // Realtime punches while the gateway runs, with a SIGKILL in the middle.
  const live: string[] = [];
  for (let i = 0; i < 60; i++) {
    const user = `LIVE-${String(i).padStart(3, '0')}`;
    live.push(user);
    sim.punch(user, i % 2 ? 'card' : 'fingerprint', { y: 2026, mo: 12, d: 4, h: 12, mi: Math.floor(i / 60), s: i % 60 });
    await new Promise((r) => setTimeout(r, 15));
    if (i === 30) {
      gw.child.kill('SIGKILL');
      await gw.exited;
      gw = spawnGateway(args);
      await waitHealthy(httpPort, gw);
    }
  }
  const total = before.length + live.length;

  await center.waitFor(() => center.byId.size >= total, 90_000, `${total} punches at the center`);
  // Downloads keep running every second: give them time to (wrongly) add anything.
  await new Promise((r) => setTimeout(r, 2500));

  const recs = [...center.byId.values()];
  t.equal(recs.length, total, 'every punch exactly once after dedupe on id');
  const keys = recs.map((r) => `${r.user}|${r.time}`);
  t.equal(new Set(keys).size, total, 'no punch under two ids');
  const users = new Set(recs.map((r) => r.user as string));
  t.ok([...before.map((r) => r.user), ...live].every((u) => users.has(u)), 'every user present, ids whole');
  const ids = recs.map((r) => r.id).sort((a, b) => Number(a.split(':')[1]) - Number(b.split(':')[1]));
  t.same(ids, Array.from({ length: total }, (_, i) => `${gatewayId}:${i + 1}`), 'gap-free ids');
  const sample = recs.find((r) => r.user === 'OFFLINE-STUDENT-00000')!;
  t.match(sample, { clock: 'zkdoor', verify: 'card' });
  t.match(sample.time as string, /^2026-12-04T07:00:00(\.000)?\+08:00$/, 'terminal time with the configured zone offset');
  t.ok(Math.abs(sim.clockOffsetSeconds) <= 2, `terminal clock set from the synced gateway (${sim.clockOffsetSeconds} s off)`);

  // Cleared only once every record is settled (the gateway answers isSettled from its store).
  const cleared = await waitFor('terminal log cleared', () => sim.log.length === 0, 30_000).then(
    () => true,
    () => false,
  );
  t.ok(cleared, 'terminal log cleared once everything was settled (isSettled -> PunchStore.allSettled)');
  t.equal(center.byId.size, total, 'clearing lost nothing and added nothing');

  const status = await api(httpPort, '/api/status');
  t.ok(status, 'status answers');
  await stopGateway(gw);
  const exit = await gw.exited;
  gw = null;
  t.equal(exit.code, 0, 'SIGTERM stops the gateway cleanly');
});
