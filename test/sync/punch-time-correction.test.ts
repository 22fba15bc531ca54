import t from 'tap';
import type { Test } from 'tap';
import { join } from 'node:path';
import { openDatabase, closeDatabase } from '../../sync/store/database.js';
import { PunchStore } from '../../sync/store/punch-store.js';
import { PunchTimeCorrector } from '../../sync/store/punch-time-correction.js';
import { Outbox, batchRecords } from '../../sync/outbox/outbox.js';
import { tempDir, punch } from './fixtures.js';

// The box booted believing it was 2020-01-01T00:00:00Z; it really was 2026-12-04T08:00:00Z.
const WRONG_BOOT_WALL = Date.UTC(2020, 0, 1);
const TRUE_BOOT_WALL = Date.UTC(2026, 11, 4, 8);
const SEC = 1_000_000_000n;
const iso = (ms: number) => new Date(ms).toISOString().replace('Z', '+00:00');

/** A punch taken `s` seconds after boot with the wrong clock (gateway-stamped unless deviceTime). */
function unsynced(s: number, over: { deviceTime?: string; bootId?: string; user?: string } = {}) {
  const receivedAt = iso(WRONG_BOOT_WALL + s * 1000);
  return punch(s, {
    user: over.user ?? `u${s}`,
    time: over.deviceTime ?? receivedAt,
    receivedAt,
    clockSynced: false,
    monoNs: BigInt(s) * SEC,
    bootId: over.bootId ?? 'boot-B',
  });
}

function setup(t: Test) {
  const db = openDatabase(join(tempDir(t), 'tpgw.db'));
  t.teardown(() => closeDatabase(db));
  const outbox = new Outbox(db);
  const store = new PunchStore(db, 'G', outbox);
  const corrector = new PunchTimeCorrector(db, 'G', outbox);
  return { db, outbox, store, corrector };
}

// The sync is seen 1000 s after boot.
const anchor = { bootId: 'boot-B', wallMs: TRUE_BOOT_WALL + 1_000_000, monoNs: 1000n * SEC };

t.test('punches of this boot taken before the sync are dated from the monotonic clock', async (t) => {
  const { db, outbox, store, corrector } = setup(t);
  store.append(unsynced(10)); // 1: sent and settled
  store.append(unsynced(20)); // 2: sent, in flight
  store.append(unsynced(30, { deviceTime: '2026-12-04T08:00:29+00:00' })); // 3: pending, the device gave its own time
  store.append(unsynced(40)); // 4: pending
  store.append(unsynced(50, { bootId: 'boot-A' })); // 5: an earlier boot: cannot be dated
  store.append(punch(60, { user: 'synced' })); // 6: taken with a synchronised clock
  const first = outbox.takeBatch('attendance', 1)!;
  outbox.settle('attendance', first.batch);
  outbox.takeBatch('attendance', 1);

  const r = corrector.correct(anchor, { format: iso });
  t.same(r, { examined: 4, corrected: 4, correctedPending: 2, correctionRecords: 2 });

  const byId = new Map(store.list().map((p) => [p.id, p]));
  t.equal(byId.get('G:1')!.time, iso(TRUE_BOOT_WALL + 10_000), 'gateway-stamped time corrected');
  t.equal(byId.get('G:1')!.receivedAt, iso(TRUE_BOOT_WALL + 10_000));
  t.equal(byId.get('G:3')!.time, '2026-12-04T08:00:29+00:00', "a device's own time is its evidence: kept");
  t.equal(byId.get('G:3')!.receivedAt, iso(TRUE_BOOT_WALL + 30_000), 'but the gateway stamp is corrected');
  t.equal(byId.get('G:5')!.time, iso(WRONG_BOOT_WALL + 50_000), 'other boot untouched');
  t.equal(byId.get('G:1')!.clockSynced, false, 'still says the clock was not synchronised at receipt');
  const since = store.list({ since: '2026-12-04T08:00:00+00:00' }).map((p) => p.id);
  t.same(since, ['G:1', 'G:2', 'G:3', 'G:4', 'G:6'], 'time queries see the corrected instants');
  const audit = db.prepare('SELECT corrected_from FROM punches WHERE seq = 2').pluck().get() as string;
  t.same(JSON.parse(audit), { offsetMs: TRUE_BOOT_WALL - WRONG_BOOT_WALL, applied: true, time: iso(WRONG_BOOT_WALL + 20_000), receivedAt: iso(WRONG_BOOT_WALL + 20_000) });

  // Pending punches leave with the corrected times and say what they were.
  const next = outbox.takeBatch('attendance', 10)!;
  const recs = batchRecords(next);
  t.same(recs.map((x) => x.id), ['G:3', 'G:4', 'G:5', 'G:6']);
  t.match(recs[1], {
    id: 'G:4', seq: 4, time: iso(TRUE_BOOT_WALL + 40_000), receivedAt: iso(TRUE_BOOT_WALL + 40_000), clockSynced: false,
    timeCorrected: { offsetMs: TRUE_BOOT_WALL - WRONG_BOOT_WALL, method: 'monotonic', was: { time: iso(WRONG_BOOT_WALL + 40_000) } },
  });
  t.notOk('timeCorrected' in recs[2], 'the earlier boot punch is sent as it was');

  // Punches already sent get a correction record each.
  const corr = outbox.takeBatch('corrections', 10)!;
  t.match(corr.batch, /^corrections-1-/);
  t.same(batchRecords(corr), [
    { id: 'G:corr:1', seq: 1, punch: 'G:1', punchSeq: 1, clock: 'c1', time: iso(TRUE_BOOT_WALL + 10_000), receivedAt: iso(TRUE_BOOT_WALL + 10_000), bootId: 'boot-B', offsetMs: TRUE_BOOT_WALL - WRONG_BOOT_WALL, was: { time: iso(WRONG_BOOT_WALL + 10_000), receivedAt: iso(WRONG_BOOT_WALL + 10_000) }, method: 'monotonic' },
    { id: 'G:corr:2', seq: 2, punch: 'G:2', punchSeq: 2, clock: 'c1', time: iso(TRUE_BOOT_WALL + 20_000), receivedAt: iso(TRUE_BOOT_WALL + 20_000), bootId: 'boot-B', offsetMs: TRUE_BOOT_WALL - WRONG_BOOT_WALL, was: { time: iso(WRONG_BOOT_WALL + 20_000), receivedAt: iso(WRONG_BOOT_WALL + 20_000) }, method: 'monotonic' },
  ]);

  t.same(corrector.correct({ ...anchor, wallMs: anchor.wallMs + 5000, monoNs: anchor.monoNs + 5n * SEC }, { format: iso }),
    { examined: 0, corrected: 0, correctedPending: 0, correctionRecords: 0 }, 'a punch is corrected once: a later sync changes nothing');
});

t.test('a clock that was right but not yet confirmed: examined, not applied', async (t) => {
  const { outbox, store, corrector } = setup(t);
  // Booted with the right time (offset 300 ms): nothing worth telling anyone.
  const receivedAt = iso(TRUE_BOOT_WALL + 10_000 - 300);
  store.append(punch(1, { time: receivedAt, receivedAt, clockSynced: false, monoNs: 10n * SEC, bootId: 'boot-B' }));
  t.same(corrector.correct(anchor, { format: iso }), { examined: 1, corrected: 0, correctedPending: 0, correctionRecords: 0 });
  t.equal(store.list()[0].time, receivedAt);
  t.notOk('timeCorrected' in batchRecords(outbox.takeBatch('attendance', 10)!)[0]);
  t.equal(outbox.pendingCount('corrections'), 0);
  t.equal(corrector.correct(anchor, { format: iso }).examined, 0, 'and not examined again');
});

t.test('all or nothing: a failure part-way changes no punch', async (t) => {
  const { outbox, store, corrector } = setup(t);
  for (const s of [10, 20, 30]) store.append(unsynced(s));
  outbox.takeBatch('attendance', 3);
  const enqueue = outbox.enqueue.bind(outbox);
  let calls = 0;
  outbox.enqueue = (stream, rec) => {
    if (++calls === 2) throw new Error('disk full');
    return enqueue(stream, rec);
  };
  t.throws(() => corrector.correct(anchor, { format: iso }), /disk full/);
  t.same(store.list().map((p) => p.time), [10, 20, 30].map((s) => iso(WRONG_BOOT_WALL + s * 1000)), 'times as they were');
  t.equal(outbox.pendingCount('corrections'), 0);
  outbox.enqueue = enqueue;
  t.equal(corrector.correct(anchor, { format: iso }).corrected, 3, 'examined again next time');
});

t.test('a punch taken after the anchor waits for the next one', async (t) => {
  const { store, corrector } = setup(t);
  store.append(unsynced(2000));
  t.equal(corrector.correct(anchor, { format: iso }).examined, 0);
  t.equal(corrector.correct({ ...anchor, wallMs: anchor.wallMs + 2_000_000, monoNs: 3000n * SEC }, { format: iso }).corrected, 1);
});
