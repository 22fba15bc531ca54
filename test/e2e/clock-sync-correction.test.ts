// A box without RTC boots believing it is three years earlier. Punches arrive on a real serial
// clock (socat pty); some reach the center with the wrong time, then the broker goes away, more
// punches wait in SQLite, and the system clock synchronises. The center must end with the right
// times: the waiting punches arrive already corrected (timeCorrected), the ones it already had
// get a record each on tpgw/G/corrections; everything is acked and nothing is pending. The
// gateway runs in this process so the test can control what the box believes about its clock
// (GatewayOptions.time/now); the rest is real: driver, SQLite, uplinks, broker, center.
import t from 'tap';
import { mkdtempSync, openSync, writeSync, closeSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSchema } from '../../config/schema.js';
import { Gateway } from '../../gateway/gateway.js';
import { createLogger } from '../../gateway/logger.js';
import type { TimeFacts } from '../../gateway/time-facts.js';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { freePort } from '../helpers/free-port.js';
import { ptyPair, socatMissing } from '../helpers/pty.js';
import { TestCenter } from '../helpers/center.js';
import { until } from '../helpers/until.js';

const GATEWAY = 'tc-e2e';
const OFFSET_MS = 3 * 365 * 86_400_000; // the box's clock is ~3 years behind until it syncs

/** What the box believes about its clock; the test decides when NTP answers. */
class ControlledTime implements TimeFacts {
  private synced = false;
  private readonly listeners = new Set<() => void>();
  clockSynced = () => this.synced;
  bootId = () => 'boot-tc-e2e';
  monoNs = () => process.hrtime.bigint();
  onSynced(fn: () => void) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
  sync() {
    this.synced = true;
    for (const fn of this.listeners) fn();
  }
  stop() {}
}

t.test('punch times taken before the clock synchronised reach the center corrected', { skip: socatMissing, timeout: 90_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tpgw-tc-e2e-'));
  const port = await freePort();
  let broker: TestBroker = await startBroker({ port });
  const attendance = new TestCenter(broker.url, GATEWAY, 'attendance');
  await attendance.start();
  const pty = await ptyPair();
  const time = new ControlledTime();
  // Wall time as the box sees it: wrong until synced.
  const now = () => new Date(Date.now() - (time.clockSynced() ? 0 : OFFSET_MS));
  const config = configSchema.parse({
    gateway: { id: GATEWAY, dataDir: join(dir, 'data') },
    center: { mqtt: { url: broker.url, reconnectMinMs: 100, reconnectMaxMs: 500 }, ackTimeoutSeconds: 3 },
    sync: { batchMax: 50, lingerMs: 10 },
    http: { listen: `127.0.0.1:${await freePort()}` },
    clocks: [{ id: 'door', driver: 'line', port: pty.device }],
    log: { level: 'warn' },
  });
  const gateway = new Gateway(config, { logger: createLogger('warn', { destination: { write: () => true } as unknown as NodeJS.WritableStream }), time, now });
  const clients: { stop(): Promise<void> }[] = [attendance];
  t.teardown(async () => {
    await gateway.stop().catch(() => {});
    for (const c of clients) await c.stop().catch(() => {});
    await broker.stop();
    await pty.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await gateway.start();
  const peer = openSync(pty.peer, 'w');
  t.teardown(() => closeSync(peer));
  const punchAt: Record<string, number> = {};
  const punch = (user: string) => {
    punchAt[user] = Date.now();
    writeSync(peer, `${user}\r\n`);
  };

  // Two punches reach the center with the wrong time, and are settled.
  await until('line clock open', () => (gateway.status().clocks as { connected: boolean }[])[0].connected);
  punch('u1');
  punch('u2');
  await until('first two at the center', () => attendance.byId.size === 2);
  const early = [...attendance.byId.values()];
  for (const r of early) t.ok(Date.parse(r.time as string) < Date.now() - OFFSET_MS / 2, `${r.id} left with the wrong time`);
  await until('settled', () => (gateway.status().sync as { attendance: { settled: number } }).attendance.settled === 2);

  // The broker goes away; two more punches wait in SQLite; then the clock synchronises.
  await attendance.stop();
  clients.length = 0;
  await broker.stop();
  await until('link down', () => !(gateway.status().mqtt as { connected: boolean }).connected);
  punch('u3');
  punch('u4');
  await until('waiting', () => (gateway.status().sync as { attendance: { pending: number } }).attendance.pending === 2);
  time.sync();

  // The broker comes back: the center gets corrected punches and corrections.
  broker = await startBroker({ port });
  const attendance2 = new TestCenter(broker.url, GATEWAY, 'attendance');
  const corrections = new TestCenter(broker.url, GATEWAY, 'corrections');
  await attendance2.start();
  await corrections.start();
  clients.push(attendance2, corrections);

  await until('corrected punches', () => attendance2.byId.size === 2);
  await until('corrections', () => corrections.byId.size === 2);
  const tolerance = 2000; // the line arrives within moments of being written
  for (const user of ['u3', 'u4']) {
    const r = [...attendance2.byId.values()].find((x) => x.user === user)!;
    t.ok(Math.abs(Date.parse(r.time as string) - punchAt[user]) < tolerance, `${user}: sent with the true time`);
    t.equal(r.clockSynced, false, 'still says the clock was unsynchronised at receipt');
    t.match(r.timeCorrected, { method: 'monotonic', was: { time: String } });
    t.ok(Math.abs((r.timeCorrected as { offsetMs: number }).offsetMs - OFFSET_MS) < tolerance);
  }
  const corr = [...corrections.byId.values()];
  t.same(corr.map((c) => c.punch).sort(), early.map((r) => r.id).sort(), 'one correction per punch already sent');
  for (const c of corr) {
    const user = early.find((r) => r.id === c.punch)!.user as string;
    t.ok(Math.abs(Date.parse(c.time as string) - punchAt[user]) < tolerance, `${c.punch}: corrected to the true time`);
    t.equal((c.was as { time: string }).time, early.find((r) => r.id === c.punch)!.time, 'names what was sent');
  }
  await until('all settled', () => {
    const s = gateway.status().sync as Record<string, { pending: number; inflight: number }>;
    return ['attendance', 'corrections'].every((k) => s[k].pending + s[k].inflight === 0);
  });
  // The alarm was raised while the link was down (it went out on reconnect, before this test's
  // subscriber could exist): the gateway's own record of recent events shows it.
  const events = gateway.status().events as { type: string; detail?: Record<string, number> }[];
  t.match(events.find((e) => e.type === 'punch-times-corrected')?.detail, { corrected: 4, correctedPending: 2, correctionRecords: 2 });
  const api = gateway.status().sync as Record<string, { settled: number }>;
  t.equal(api.corrections.settled, 2);
});
