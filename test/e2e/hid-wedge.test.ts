// USB HID keyboard-wedge reader end to end. No virtual HID device can exist here (no uhid), so the
// Gateway runs in this process with its HID opener injected (GatewayOptions.hidOpen): a simulated
// reader emits recorded boot-keyboard report sequences through the same 'data'/'error' events
// node-hid uses. Everything after the reports is real: the driver, the SQLite store, the uplink,
// Mosquitto (Aedes when absent) and a center that acks batches. The reader is unplugged in the
// middle of a swipe and plugged back in; every code must reach the center exactly once.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { configSchema } from '../../config/schema.js';
import { Gateway } from '../../gateway/gateway.js';
import { createLogger } from '../../gateway/logger.js';
import { reportsFor, type HidReportOptions } from '../../drivers/sim/hid-reports.js';
import { SimulatedHidReader } from '../../drivers/sim/hid-sim.js';
import { startBroker } from '../helpers/broker.js';
import { freePort } from '../helpers/free-port.js';
import { TestCenter } from '../helpers/center.js';
import { until } from '../helpers/until.js';

const GATEWAY = 'hid-e2e';
const CLOCK = 'card-door';
const TOTAL = 200;

/** 200 distinct card codes in the shapes readers type: doubled digits, hex UIDs, long decimals. */
function codeFor(i: number): string {
  if (i === 0) return '0011223344';
  switch (i % 4) {
    case 1:
      return [...String(i).padStart(5, '0')].map((d) => d + d).join(''); // "0000000011", "0000110011", ...
    case 2:
      return `04${(0xa1b2c0 + i).toString(16).toUpperCase()}`; // shifted letters
    case 3:
      return `7${String(i).padStart(9, '0')}`;
    default:
      return String(i * 7919).padStart(10, '0');
  }
}

/** Report styles vary so the whole decoder path is exercised through the gateway. */
function styleFor(i: number): HidReportOptions {
  return {
    rollover: i % 3 === 0,
    terminator: i % 5 === 0 ? 'keypad-enter' : i % 11 === 0 ? 'tab' : 'enter',
    keypadDigits: i % 7 === 0,
    reportId: i % 13 === 0 ? 1 : undefined,
  };
}

t.test('hid wedge -> gateway -> broker -> acking center: every code once, across an unplug mid-swipe', { timeout: 90_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tpgw-hid-e2e-'));
  const broker = await startBroker();
  const center = new TestCenter(broker.url, GATEWAY);
  await center.start();
  const events: { type: string; clock?: string }[] = [];
  const eventClient = await mqtt.connectAsync(broker.url, { clientId: `center-events-${process.pid}`, clean: true });
  eventClient.on('message', (_topic, payload) => events.push(JSON.parse(payload.toString())));
  await eventClient.subscribeAsync(`tpgw/${GATEWAY}/event`, { qos: 1 });

  // The "USB bus": while unplugged, opening fails the way openNodeHid does when no device matches.
  let plugged = true;
  let failedOpens = 0;
  const readers: SimulatedHidReader[] = [];
  const hidOpen = () => {
    if (!plugged) {
      failedOpens++;
      throw new Error('no HID device ffff:0035 is attached');
    }
    const r = new SimulatedHidReader(`/dev/hidraw-sim${readers.length}`);
    readers.push(r);
    return r;
  };

  const logs: string[] = [];
  const logger = createLogger('warn', { destination: { write: (s: string) => void logs.push(s) } as unknown as NodeJS.WritableStream });
  const httpPort = await freePort();
  const config = configSchema.parse({
    gateway: { id: GATEWAY, dataDir: join(dir, 'data'), timeSync: 'synced' },
    center: { mqtt: { url: broker.url, reconnectMinMs: 200, reconnectMaxMs: 2000 }, ackTimeoutSeconds: 2 },
    sync: { batchMax: 50, lingerMs: 20, maxInflightBatches: 4 },
    http: { listen: `127.0.0.1:${httpPort}` },
    clocks: [{ id: CLOCK, driver: 'hid-wedge', vendorId: 0xffff, productId: 0x0035 }],
    log: { level: 'warn' },
  });
  const gateway = new Gateway(config, { logger, hidOpen });
  t.teardown(async () => {
    await gateway.stop().catch(() => {});
    await eventClient.endAsync().catch(() => {});
    await center.stop().catch(() => {});
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await gateway.start();

  const clock = () => (gateway.status().clocks as { connected: boolean; punches: number; framesBad: number }[])[0];
  await until('reader open', () => clock().connected);

  const codes = Array.from({ length: TOTAL }, (_, i) => codeFor(i));
  t.equal(new Set(codes).size, TOTAL, '200 distinct codes');
  const swipe = async (i: number) => {
    readers.at(-1)!.swipe(codes[i], styleFor(i));
    await new Promise((r) => setImmediate(r)); // let the uplink run between swipes
  };

  const half = TOTAL / 2;
  for (let i = 0; i < half; i++) await swipe(i);

  // Unplugged halfway through a swipe: the half-typed code must not become a punch (nor prefix
  // the next one); the card is presented again once the reader is back.
  const partial = reportsFor(codes[half], styleFor(half));
  readers.at(-1)!.feed(partial.slice(0, Math.floor(partial.length / 2)));
  plugged = false;
  readers.at(-1)!.unplug();
  await until('reader offline', () => !clock().connected);
  await until('reopen attempts while unplugged', () => failedOpens >= 2);
  plugged = true;
  await until('reader back', () => clock().connected, 30_000);
  t.equal(readers.length, 2, 'the replugged reader is a new handle');
  for (let i = half; i < TOTAL; i++) await swipe(i);

  let stats: any;
  await until(
    'uplink drained',
    () => {
      stats = (gateway.status().sync as any).attendance;
      return stats.pending === 0 && stats.inflight === 0 && center.byId.size >= TOTAL;
    },
    30_000,
  );
  t.equal(gateway.punchCount(), TOTAL, 'the gateway stored exactly 200 punches');
  t.equal(stats.lastSeq, TOTAL, 'sequence numbers 1..200, none spent on the half swipe');
  t.equal(stats.pending + stats.inflight, 0, 'zero pending');
  t.equal(clock().punches, TOTAL, 'driver status counts 200 punches');
  t.equal(clock().framesBad, 0, 'no report was rejected');

  const ids = [...center.byId.keys()].sort((a, b) => Number(a.split(':')[1]) - Number(b.split(':')[1]));
  t.same(ids, Array.from({ length: TOTAL }, (_, i) => `${GATEWAY}:${i + 1}`), 'center holds ids 1..200, gap-free, once each after dedupe');
  const recs = ids.map((id) => center.byId.get(id)!);
  t.same(recs.map((r) => r.user), codes, 'every code exactly once, in swipe order (doubled digits kept: "0011223344")');
  t.ok(recs.every((r) => r.verify === 'card' && r.clock === CLOCK && r.clockSynced === true), 'verify card, clock id, clockSynced');
  t.ok(center.received.every((r) => center.byId.get(r.id)!.user === r.user), 're-sent records kept their ids');
  t.ok(logs.some((l) => l.includes('"kind":"incomplete-code"')), 'the half-typed code was reported as incomplete, not stored');

  const mine = events.filter((e) => e.clock === CLOCK).map((e) => e.type);
  t.same(mine.slice(0, 3), ['clock-online', 'clock-offline', 'clock-online'], 'clock-offline and clock-online events on tpgw/G/event');

  await gateway.stop();
  t.ok(readers.at(-1)!.closed, 'stop() closes the reader');
  t.ok(readers[0].closed, 'the unplugged handle was closed');
});
