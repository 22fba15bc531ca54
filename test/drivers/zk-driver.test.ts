// ZkDriver against the simulator over loopback TCP: realtime events, bulk downloads, dedupe,
// partial downloads. The sink dedupes on extra.dedupeKey exactly like the store.
import t from 'tap';
import { ZkSim } from '../../drivers/sim/zk-sim.js';
import { ZkDriver } from '../../drivers/zk/zk-driver.js';
import { mapSink, records, waitFor, zkConfig } from './zk-helpers.js';

async function setup(t: { teardown: (fn: () => Promise<void>) => void }, simOpts: ConstructorParameters<typeof ZkSim>[0] = {}, driverOpts: ConstructorParameters<typeof ZkDriver>[2] = {}) {
  const sim = new ZkSim({ serialNumber: 'CKJ1234567', ...simOpts });
  const port = await sim.start();
  const store = mapSink();
  const driver = new ZkDriver(zkConfig(port), store.sink, { isSettled: store.isSettled, ...driverOpts });
  const notices: Array<[string, Record<string, unknown>]> = [];
  driver.on('notice', (k, d) => notices.push([k, d]));
  t.teardown(async () => {
    await driver.stop();
    await sim.stop();
  });
  return { sim, port, store, driver, notices };
}

t.test('realtime punches are stored once, then acknowledged', async (t) => {
  const { sim, store, driver } = await setup(t);
  await driver.start();
  t.equal(driver.status().connected, true);
  await waitFor('first download', () => driver.status().lastDownload !== null);

  sim.punch('STUDENT-2026-000042', 'fingerprint');
  sim.punch('7', 'card');
  sim.punch('STUDENT-2026-000043', 'face');
  await waitFor('three punches', () => store.stored.size === 3);
  await waitFor('three acks', () => sim.stats.eventsAcked === 3);

  const users = [...store.stored.values()].map((r) => r.punch.user).sort();
  t.same(users, ['7', 'STUDENT-2026-000042', 'STUDENT-2026-000043'], 'user ids whole');
  const p = [...store.stored.values()].find((r) => r.punch.user === '7')!.punch;
  t.equal(p.verify, 'card');
  t.equal(p.clock, 'zk1');
  t.match(p.deviceTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/);
  t.match(String(p.extra?.dedupeKey), /^zk:CKJ1234567:7:\d{4}-/);
  t.equal(p.extra?.source, 'realtime');
  t.equal(store.calls.length, 3, 'each event reached the sink once');
  t.equal(driver.status().punches, 3);

  // The log download that follows finds the same three punches: all duplicates.
  const r = await driver.downloadNow();
  t.same(r, { records: 3, stored: 0, duplicates: 3, cleared: false });
  t.equal(store.stored.size, 3);
});

t.test('a punch with an impossible terminal time is stored without deviceTime, never dropped or rolled over', async (t) => {
  const { sim, store, driver, notices } = await setup(t);
  await driver.start();
  await waitFor('first download', () => driver.status().lastDownload !== null);
  sim.punch('1002', 'card', { y: 2026, mo: 2, d: 31, h: 8, mi: 0, s: 5 });
  await waitFor('stored', () => store.stored.size === 1);
  await waitFor('acked', () => sim.stats.eventsAcked === 1);
  const p = [...store.stored.values()][0].punch;
  t.equal(p.user, '1002');
  t.notOk('deviceTime' in p, 'no invented time: the gateway stamps it at receipt');
  t.equal(p.extra?.deviceLocalTime, '2026-02-31T08:00:05', 'what the terminal said is kept');
  t.match(String(p.extra?.dedupeKey), /:1002:2026-02-31T08:00:05$/);
  t.ok(notices.some(([k, d]) => k === 'invalid-device-time' && d.deviceLocalTime === '2026-02-31T08:00:05'));
});

t.test('an event the store could not take is not acknowledged; the re-send is stored'
, async (t) => {
  const { sim, store, driver } = await setup(t, { eventResendMs: 100 });
  await driver.start();
  await waitFor('first download', () => driver.status().lastDownload !== null);
  store.failNext(1);
  sim.punch('1001', 'fingerprint');
  await waitFor('ack after retry', () => sim.stats.eventsAcked === 1);
  t.ok(sim.stats.eventsSent >= 2, 'the terminal had to send it again');
  t.equal(store.stored.size, 1);
  t.equal(store.calls.length, 1);
  t.match(driver.status().lastError, /store/);
});

t.test('3,000 records download in several chunks, each stored once, ids whole', async (t) => {
  const { sim, store, driver } = await setup(t, {}, { chunkSize: 16 * 1024 });
  sim.fill(records(3000, (i) => `TP-STUDENT-${String(i).padStart(8, '0')}`));
  await driver.start();
  await waitFor('download', () => driver.status().lastDownload !== null);
  t.same(driver.status().lastDownload, { records: 3000, stored: 3000, duplicates: 0, cleared: false });
  t.ok(sim.stats.readBufferRequests >= 8, `read in ${sim.stats.readBufferRequests} chunks`);
  t.equal(store.stored.size, 3000);
  t.ok([...store.stored.values()].every((r) => /^TP-STUDENT-\d{8}$/.test(r.punch.user)), 'no id truncated');
  t.equal(driver.status().recordsOnDevice, 3000);

  // Downloads repeat: nothing is stored twice.
  for (let i = 0; i < 2; i++) {
    const r = await driver.downloadNow();
    t.same(r, { records: 3000, stored: 0, duplicates: 3000, cleared: false });
  }
  t.equal(store.stored.size, 3000);
  t.equal(driver.status().punches, 3000);
});

t.test('a short or missing chunk is read again; the log is never taken as complete without it', async (t) => {
  const { sim, store, driver, notices } = await setup(t, {}, { chunkSize: 8 * 1024 });
  sim.fill(records(500));
  // The initial download meets two damaged chunks and re-reads them.
  sim.injectFault('truncate-chunk');
  sim.injectFault('drop-chunk');
  await driver.start();
  await waitFor('download', () => driver.status().lastDownload !== null);
  t.same(driver.status().lastDownload, { records: 500, stored: 500, duplicates: 0, cleared: false });
  t.equal(store.calls.length, 500);

  // Now one chunk fails every attempt: the download is reported failed and stores nothing.
  sim.fill(records(10, (i) => `LATE-${i}`));
  sim.injectFault('drop-chunk', 3);
  const callsBefore = store.calls.length;
  await t.rejects(driver.downloadNow(), /chunk/);
  t.equal(store.calls.length, callsBefore, 'nothing of the failed download reached the sink');
  t.equal(driver.status().downloadsFailed, 1);
  t.ok(notices.some(([k]) => k === 'download-failed'));

  // The next pass gets everything; the 500 already stored are duplicates.
  const r = await driver.downloadNow();
  t.same(r, { records: 510, stored: 10, duplicates: 500, cleared: false });
  t.equal(store.stored.size, 510);
});

t.test('a truncated attendance buffer (fewer bytes than announced) is refused', async (t) => {
  const { sim, store, driver } = await setup(t, {}, { chunkSize: 4 * 1024 });
  sim.fill(records(200));
  sim.injectFault('truncate-chunk', 3);
  await driver.start();
  await waitFor('failed download', () => driver.status().downloadsFailed === 1);
  t.equal(store.calls.length, 0);
  const r = await driver.downloadNow();
  t.equal(r.stored, 200);
});

t.test('garbage on the stream before a reply is skipped', async (t) => {
  const { sim, store, driver } = await setup(t);
  sim.fill(records(50));
  await driver.start();
  await waitFor('download', () => driver.status().lastDownload !== null);
  sim.injectFault('garbage', 3);
  const r = await driver.downloadNow();
  t.same(r, { records: 50, stored: 0, duplicates: 50, cleared: false });
  t.equal(store.stored.size, 50);
  t.equal(driver.status().connected, true);
  t.ok(driver.status().framesBad >= 1, 'the false frame start was counted');
});

t.test('stop ends the session politely and delivers nothing afterwards', async (t) => {
  const { sim, store, driver } = await setup(t);
  await driver.start();
  await waitFor('download', () => driver.status().lastDownload !== null);
  await driver.stop();
  t.equal(driver.status().connected, false);
  await waitFor('session gone', () => sim.sessionCount === 0);
  t.ok((sim.stats.commands['1001'] ?? 0) >= 1, 'CMD_EXIT sent');
  sim.punch('after-stop');
  await new Promise((r) => setTimeout(r, 100));
  t.equal(store.calls.length, 0);
});

t.test('firmware without CMD_PREPARE_BUFFER: the log comes with CMD_ATTLOG_RRQ, still checked', async (t) => {
  const { sim, store, driver } = await setup(t, { bufferedRead: false, recordSize: 49 });
  sim.fill(records(2000));
  await driver.start();
  await waitFor('download', () => driver.status().lastDownload !== null);
  t.same(driver.status().lastDownload, { records: 2000, stored: 2000, duplicates: 0, cleared: false });
  t.equal(sim.stats.readBufferRequests, 0);
  t.ok((sim.stats.commands[String(13)] ?? 0) >= 1, 'CMD_ATTLOG_RRQ used');
  // A short answer is refused like a short chunk.
  sim.injectFault('truncate-chunk');
  await t.rejects(driver.downloadNow());
  t.equal(store.calls.length, 2000, 'nothing stored from the short answer');
  t.equal((await driver.downloadNow()).duplicates, 2000);
});
