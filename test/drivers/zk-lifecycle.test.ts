// ZkDriver life cycle against the simulator: reboot and reconnect, clearing the log only when
// settled, setting the terminal's clock, the UDP path (and TCP -> UDP fallback), comm keys.
import t from 'tap';
import { ZkSim, type ZkSimOptions } from '../../drivers/sim/zk-sim.js';
import { ZkDriver, type ZkDriverOptions } from '../../drivers/zk/zk-driver.js';
import { CMD } from '../../drivers/zk/packet.js';
import type { ZkClockConfig } from '../../config/clocks.js';
import { mapSink, records, waitFor, zkConfig } from './zk-helpers.js';

async function setup(
  t: { teardown: (fn: () => Promise<void>) => void },
  simOpts: ZkSimOptions = {},
  cfg: Partial<ZkClockConfig> = {},
  driverOpts: ZkDriverOptions = {},
) {
  const sim = new ZkSim({ serialNumber: 'LIFE000001', timeZone: 'Europe/Berlin', ...simOpts });
  const port = await sim.start();
  const store = mapSink();
  const driver = new ZkDriver(zkConfig(port, cfg), store.sink, {
    isSettled: store.isSettled,
    backoff: { initialMs: 50, maxMs: 400 },
    keepaliveMs: 200,
    ...driverOpts,
  });
  const notices: string[] = [];
  const transitions: boolean[] = [];
  driver.on('notice', (k) => notices.push(k));
  driver.on('connection', (up) => transitions.push(up));
  t.teardown(async () => {
    await driver.stop();
    await sim.stop();
  });
  return { sim, port, store, driver, notices, transitions };
}

t.test('terminal reboot: offline, back online, punches continue, nothing doubled', async (t) => {
  const { sim, store, driver, transitions } = await setup(t);
  sim.fill(records(20));
  await driver.start();
  await waitFor('download', () => driver.status().lastDownload !== null);
  sim.punch('BEFORE-REBOOT');
  await waitFor('punch', () => store.stored.size === 21);
  await waitFor('event acknowledged', () => sim.stats.eventsAcked === 1);

  await sim.reboot(300);
  await waitFor('offline', () => transitions.includes(false));
  await waitFor('online again', () => transitions.lastIndexOf(true) > transitions.indexOf(false));
  t.equal(driver.status().connected, true);
  sim.punch('AFTER-REBOOT');
  await waitFor('punch after reboot', () => [...store.stored.values()].some((r) => r.punch.user === 'AFTER-REBOOT'));
  // The reconnect downloaded the log again: all duplicates.
  await waitFor('second download', () => (driver.status().lastDownload?.duplicates ?? 0) >= 21);
  await waitFor('both events acknowledged', () => sim.stats.eventsAcked === 2);
  t.equal(store.stored.size, 22);
});

t.test('a terminal that stops answering (UDP, no socket close) is detected by the keepalive', async (t) => {
  const { sim, store, driver, transitions } = await setup(t, {}, { transport: 'udp' });
  await driver.start();
  t.equal(driver.status().transport, 'udp');
  await waitFor('download', () => driver.status().lastDownload !== null);
  await sim.reboot(500);
  await waitFor('offline', () => transitions.includes(false));
  await waitFor('online again', () => transitions.lastIndexOf(true) > transitions.indexOf(false));
  sim.punch('UDP-AFTER-REBOOT');
  await waitFor('punch', () => store.stored.size === 1);
  // Under load the terminal may re-send the event (ack not seen in time) or a download may bring
  // the same record: each repeat reaches the sink as a duplicate and is stored once.
  t.ok(store.calls.length >= 1);
  t.equal(new Set(store.calls.map((c) => c.extra?.dedupeKey)).size, 1, 'every delivery is the same record');
  t.equal(store.stored.size, 1, 'stored once');
});

t.test('the log is cleared only when configured, settled, and unchanged', async (t) => {
  const { sim, store, driver, notices } = await setup(t, {}, { clearLogWhenSettled: true });
  sim.fill(records(5));
  await driver.start();
  await waitFor('download', () => driver.status().lastDownload !== null);
  t.equal(driver.status().lastDownload?.cleared, false, 'stored but not settled: kept');
  t.equal(sim.log.length, 5);

  // Settled at the center, but a punch lands just before the terminal is disabled for the clear.
  for (const k of store.stored.keys()) store.settled.add(k);
  sim.beforeCommand = (cmd) => {
    if (cmd === CMD.DISABLEDEVICE) {
      sim.beforeCommand = null;
      sim.fill(records(1, () => 'RACER'));
    }
  };
  let r = await driver.downloadNow();
  t.equal(r.cleared, false, 'a record appeared between download and clear: kept');
  t.equal(sim.log.length, 6);
  t.ok(notices.includes('clear-skipped'));
  t.equal(sim.disabled, false, 'terminal enabled again');

  // RACER is now stored but not settled: still kept.
  r = await driver.downloadNow();
  t.same(r, { records: 6, stored: 1, duplicates: 5, cleared: false });
  t.equal(sim.log.length, 6);

  for (const k of store.stored.keys()) store.settled.add(k);
  r = await driver.downloadNow();
  t.equal(r.cleared, true);
  t.equal(sim.log.length, 0);
  t.equal(sim.disabled, false);
  t.ok(driver.status().lastClearedAt);
  t.equal(store.stored.size, 6, 'every cleared record is in the store');
});

t.test('never cleared when not configured, even if settled', async (t) => {
  const { sim, store, driver } = await setup(t);
  sim.fill(records(3));
  await driver.start();
  await waitFor('download', () => driver.status().lastDownload !== null);
  for (const k of store.stored.keys()) store.settled.add(k);
  const r = await driver.downloadNow();
  t.equal(r.cleared, false);
  t.equal(sim.log.length, 3);
  t.notOk(sim.stats.commands[String(CMD.CLEAR_ATTLOG)]);
});

t.test("the terminal's clock is set only when configured and the gateway clock is synced", async (t) => {
  let synced = false;
  const { sim, driver } = await setup(t, { clockOffsetSeconds: -3600 }, { syncTime: true }, { isClockSynced: () => synced });
  await driver.start();
  await waitFor('clock read', () => driver.status().deviceClockOffsetSeconds !== null);
  const off = driver.status().deviceClockOffsetSeconds!;
  t.ok(off <= -3598 && off >= -3602, `offset measured: ${off}`);
  t.notOk(sim.stats.commands[String(CMD.SET_TIME)], 'unsynced gateway: terminal clock left alone');
  await driver.stop();

  synced = true;
  const store = mapSink();
  const d2 = new ZkDriver(zkConfig(sim.port, { syncTime: true }), store.sink, { isClockSynced: () => synced });
  t.teardown(() => d2.stop());
  await d2.start();
  await waitFor('clock set', () => d2.status().deviceClockOffsetSeconds === 0);
  t.equal(sim.stats.commands[String(CMD.SET_TIME)], 1);
  t.ok(Math.abs(sim.clockOffsetSeconds) <= 2, `terminal clock now ${sim.clockOffsetSeconds} s off`);
});

t.test('syncTime off: the clock is only read', async (t) => {
  const { sim, driver } = await setup(t, { clockOffsetSeconds: 120 }, { syncTime: false }, { isClockSynced: () => true });
  await driver.start();
  await waitFor('clock read', () => driver.status().deviceClockOffsetSeconds !== null);
  t.notOk(sim.stats.commands[String(CMD.SET_TIME)]);
  t.equal(sim.clockOffsetSeconds, 120);
});

t.test('UDP-only terminal: auto falls back to UDP; events and a chunked download work', async (t) => {
  const { sim, store, driver } = await setup(t, { tcp: false }, { transport: 'auto' }, { chunkSize: 4096 });
  sim.fill(records(1000));
  await driver.start();
  t.equal(driver.status().transport, 'udp');
  await waitFor('download', () => driver.status().lastDownload !== null);
  t.same(driver.status().lastDownload, { records: 1000, stored: 1000, duplicates: 0, cleared: false });
  sim.punch('UDP-USER-WITH-A-LONG-ID', 'face');
  await waitFor('event', () => store.stored.size === 1001);
  await waitFor('ack', () => sim.stats.eventsAcked === 1);
  const p = [...store.stored.values()].find((r) => r.punch.user === 'UDP-USER-WITH-A-LONG-ID')!.punch;
  t.equal(p.verify, 'face');
  // A chunk lost on UDP is read again.
  sim.injectFault('drop-chunk');
  const r = await driver.downloadNow();
  t.same(r, { records: 1001, stored: 0, duplicates: 1001, cleared: false });
});

t.test('comm key: the right key connects, a wrong one is reported', async (t) => {
  const { driver } = await setup(t, { commKey: 271828 }, { commKey: 271828 });
  await driver.start();
  t.equal(driver.status().connected, true);

  const bad = await setup(t, { commKey: 271828 }, { commKey: 1 });
  await bad.driver.start();
  t.equal(bad.driver.status().connected, false);
  t.match(bad.driver.status().lastError, /comm key/);
  t.notMatch(bad.driver.status().lastError, /271828/);
});

t.test('an unreachable terminal: start resolves, retries with backoff, connects when it appears', async (t) => {
  const sim = new ZkSim();
  const port = await sim.start();
  await sim.stop(); // the port is free now: connection refused
  const store = mapSink();
  const driver = new ZkDriver(zkConfig(port, { transport: 'tcp' }), store.sink, { backoff: { initialMs: 50, maxMs: 200 } });
  t.teardown(() => driver.stop());
  await driver.start();
  t.equal(driver.status().connected, false);
  t.ok(driver.status().lastError);
  const revived = new ZkSim({ port });
  await revived.start();
  t.teardown(() => revived.stop());
  await waitFor('connected', () => driver.status().connected);
  t.pass('connected after the terminal appeared');
});

t.test('a terminal that stops answering on an open TCP connection is replaced', async (t) => {
  const { sim, store, driver, transitions } = await setup(t);
  await driver.start();
  await waitFor('download', () => driver.status().lastDownload !== null);
  const connectionsBefore = sim.stats.connections;
  sim.injectFault('silent'); // the next command (a keepalive probe) gets no answer
  await waitFor('offline', () => transitions.includes(false));
  await waitFor('new session', () => sim.stats.connections > connectionsBefore && driver.status().connected);
  t.match(driver.status().lastError ?? '', /keepalive|timed out|no reply/);
  sim.punch('AFTER-HANG');
  await waitFor('punch', () => store.stored.size === 1);
});

t.test('a settlement check that throws keeps the log and does not fail the download', async (t) => {
  const { sim, store, driver, notices } = await setup(t, {}, { clearLogWhenSettled: true }, {
    isSettled: () => {
      throw new Error('store closed');
    },
  });
  sim.fill(records(4));
  await driver.start();
  await waitFor('download', () => driver.status().lastDownload !== null);
  t.equal(driver.status().downloadsFailed, 0);
  t.equal(driver.status().lastDownload?.cleared, false);
  t.equal(sim.log.length, 4);
  t.equal(store.stored.size, 4);
  t.ok(notices.includes('clear-skipped'));
});

t.test('a full log that overwrote its oldest record (same count) is not cleared', async (t) => {
  const { sim, store, driver, notices } = await setup(t, {}, { clearLogWhenSettled: true });
  sim.fill(records(5));
  await driver.start();
  await waitFor('download', () => driver.status().lastDownload !== null);
  for (const k of store.stored.keys()) store.settled.add(k);
  sim.beforeCommand = (cmd) => {
    if (cmd === CMD.DISABLEDEVICE) {
      sim.beforeCommand = null;
      sim.log.shift(); // the terminal drops its oldest record for a new one
      sim.fill(records(1, () => 'OVERWRITER'));
    }
  };
  const r = await driver.downloadNow();
  t.equal(r.cleared, false);
  t.equal(sim.log.length, 5);
  t.ok(sim.log.some((x) => x.user === 'OVERWRITER'), 'the new punch is still on the terminal');
  t.ok(notices.includes('clear-skipped'));
  const next = await driver.downloadNow();
  t.equal(next.stored, 1, 'and arrives with the next download');
});

t.test('stop during a connect that hangs: resolves, leaves no socket open', async (t) => {
  const { createServer } = await import('node:net');
  let open = 0;
  let accepted = 0;
  const server = createServer((sock) => {
    accepted++;
    open++;
    sock.on('close', () => open--);
    sock.on('error', () => undefined);
    sock.resume(); // read (and drop) requests so the peer's close is seen; never answer
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as { port: number }).port;
  const store = mapSink();
  const driver = new ZkDriver(zkConfig(port, { timeoutMs: 30_000 }), store.sink, {});
  const started = driver.start();
  await waitFor('connection accepted', () => accepted === 1);
  await driver.stop();
  await started;
  await waitFor('socket closed', () => open === 0);
  t.equal(driver.status().connected, false);
});
