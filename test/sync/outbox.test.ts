import t from 'tap';
import type { Test } from 'tap';
import { join } from 'node:path';
import { openDatabase, closeDatabase } from '../../sync/store/database.js';
import { PunchStore } from '../../sync/store/punch-store.js';
import { Outbox, batchRecords } from '../../sync/outbox/outbox.js';
import { batchMessage } from '../../sync/outbox/batch-message.js';
import { tempDir, punch } from './fixtures.js';

function setup(t: Test) {
  const file = join(tempDir(t), 'tpgw.db');
  const db = openDatabase(file);
  t.teardown(() => closeDatabase(db));
  const outbox = new Outbox(db);
  const store = new PunchStore(db, 'G', outbox);
  return { db, file, outbox, store };
}

const STATE = { pending: 0, inflight: 1, settled: 2 } as const;
const state = (outbox: Outbox) => outbox.states('attendance').map((r) => ({ seq: r.seq, state: STATE[r.state], batch: r.batch }));

t.test('state machine: pending -> inflight -> settled, by named batch only', async (t) => {
  const { db, outbox, store } = setup(t);
  for (let i = 0; i < 10; i++) store.append(punch(i));
  t.same(outbox.takePending('attendance', 3).map((r) => r.seq), [1, 2, 3], 'oldest first');
  const a = outbox.takeBatch('attendance', 4)!;
  const b = outbox.takeBatch('attendance', 4)!;
  t.match(a, { firstSeq: 1, lastSeq: 4, attempts: 1 });
  t.match(a.batch, /^attendance-1-[0-9a-f]{8}$/, "<stream>-<firstSeq>-<random>");
  t.match(b, { firstSeq: 5, lastSeq: 8 });
  t.not(a.batch, b.batch);
  t.same(batchRecords(a).map((r) => r.id), ['G:1', 'G:2', 'G:3', 'G:4']);
  t.match(outbox.stats('attendance'), { pending: 2, inflight: 8, settled: 0, lastAckAt: null, lastSeq: 10 });
  t.same(outbox.inflightSummary('attendance').map((s) => [s.batch, s.firstSeq, s.lastSeq, s.count]), [[a.batch, 1, 4, 4], [b.batch, 5, 8, 4]]);
  const ib = outbox.inflightBatches('attendance');
  t.same(ib.map((x) => x.records.map((r) => r.seq)), [[1, 2, 3, 4], [5, 6, 7, 8]]);

  t.equal(outbox.settle('attendance', 'attendance-unknown'), 0, 'unknown batch settles nothing, no throw');
  t.equal(outbox.settle('attendance', b.batch), 4, 'settles only the named batch');
  t.same(state(outbox).map((r) => r.state), [1, 1, 1, 1, 2, 2, 2, 2, 0, 0]);
  t.equal(outbox.settle('attendance', b.batch), 0, 'duplicate ack is harmless');
  t.equal(outbox.settle('recordings', a.batch), 0, 'other stream untouched');
  const st = outbox.stats('attendance');
  t.match(st, { pending: 2, inflight: 4, settled: 4 });
  t.type(st.lastAckAt, 'string');
  t.type(st.oldestPendingAgeSeconds, 'number');
  t.equal(outbox.batchPayloads('attendance', b.batch), null, 'settled batch no longer in flight');
  t.equal(outbox.batchPayloads('attendance', a.batch)!.count, 4);
  t.equal(outbox.markResent('attendance', a.batch), 1);
  t.equal(outbox.markResent('attendance', b.batch), 0, 'a settled batch is not re-sent');
  t.equal(outbox.batchPayloads('attendance', a.batch)!.attempts, 2);
  t.same(store.get('G:5')!.state, 'settled');
  t.equal(db.pragma('synchronous', { simple: true }), 2, 'claims and settles leave the connection at synchronous=FULL');
  t.same(store.get('G:5')!.batch, b.batch);
});

t.test('claim by explicit seqs: only the head of the queue, in order', async (t) => {
  const { outbox, store } = setup(t);
  for (let i = 0; i < 5; i++) store.append(punch(i));
  t.throws(() => outbox.claim('attendance', 'x-0', [2, 4]), /oldest pending/);
  t.throws(() => outbox.claim('attendance', 'x-0', [2, 1]), /oldest pending/);
  t.equal(outbox.pendingCount('attendance'), 5, 'a refused claim changes nothing');
  outbox.claim('attendance', 'x-1', [1, 2]);
  t.same(state(outbox).map((r) => [r.state, r.batch]), [[1, 'x-1'], [1, 'x-1'], [0, null], [0, null], [0, null]]);
  t.same(batchRecords(outbox.takeBatch('attendance', 10)!).map((r) => r.seq), [3, 4, 5]);
  t.match(outbox.stats('attendance'), { pending: 0, inflight: 5 });
  t.throws(() => outbox.enqueue('attendance', { recordId: 'G:3', orderKey: 'c1', payload: {}, seq: 3 }), /not above/, 'no record below the cursor');
});

t.test('other streams use their own gap-free counter', async (t) => {
  const { outbox } = setup(t);
  t.equal(outbox.enqueue('recordings', { recordId: 'r-a', orderKey: 'cam1', payload: { a: 1 } }), 1);
  t.equal(outbox.enqueue('recordings', { recordId: 'r-b', orderKey: 'cam1', payload: { a: 2 } }), 2);
  t.equal(outbox.stats('recordings').lastSeq, 2);
  t.equal(outbox.pendingCount('attendance'), 0);
  t.throws(() => outbox.enqueue('recordings', { recordId: 'r-c', orderKey: 'x', payload: {}, seq: 0 }), RangeError);
});

t.test('resendFrom puts settled and in-flight rows back to pending, batch cleared', async (t) => {
  const { db, outbox, store } = setup(t);
  for (let i = 0; i < 6; i++) store.append(punch(i));
  const a = outbox.takeBatch('attendance', 2)!;
  outbox.takeBatch('attendance', 2);
  outbox.settle('attendance', a.batch);
  t.same(state(outbox).map((r) => r.state), [2, 2, 1, 1, 0, 0]);
  t.equal(outbox.resendFrom('attendance', 2), 3);
  t.same(state(outbox).map((r) => [r.state, r.batch]), [[2, a.batch], [0, null], [0, null], [0, null], [0, null], [0, null]]);
  t.equal(outbox.resendFrom('attendance', 100), 0);
  t.match(outbox.stats('attendance'), { pending: 5, inflight: 0, settled: 1 });
  // Re-sent records travel again, in order, in new batches.
  const c = outbox.takeBatch('attendance', 10)!;
  t.same(batchRecords(c).map((r) => r.id), ['G:2', 'G:3', 'G:4', 'G:5', 'G:6']);
  t.equal(outbox.settle('attendance', a.batch), 0, 'the truncated batch was already settled');
  t.equal(outbox.settle('attendance', c.batch), 5);
  t.match(outbox.stats('attendance'), { pending: 0, inflight: 0, settled: 6 });
  // An in-flight batch straddling `from` keeps its lower part in flight.
  for (let i = 6; i < 10; i++) store.append(punch(i));
  const d = outbox.takeBatch('attendance', 4)!;
  t.equal(outbox.resendFrom('attendance', 9), 2);
  t.same(batchRecords(outbox.batchPayloads('attendance', d.batch)!).map((r) => r.seq), [7, 8]);
  t.equal(outbox.settle('attendance', d.batch), 2);
  t.same(state(outbox).slice(6).map((r) => r.state), [2, 2, 0, 0]);
});

t.test('prune: only old settled rows and their punches; counters never reset', async (t) => {
  const { db, file, outbox, store } = setup(t);
  for (let i = 0; i < 9; i++) store.append(punch(i));
  const a = outbox.takeBatch('attendance', 3)!; // settled long ago
  const b = outbox.takeBatch('attendance', 3)!; // in flight, old
  outbox.settle('attendance', a.batch, new Date('2026-01-01T00:00:00Z'));
  // Make the pending and in-flight rows look ancient too: age must not matter for them.
  db.prepare("UPDATE outbox_attendance SET created_at = '2020-01-01T00:00:00.000Z' WHERE seq > 3").run();
  db.prepare("UPDATE outbox_batches SET sent_at = '2020-01-01T00:00:00.000Z' WHERE state = 1").run();
  const now = new Date('2026-12-04T00:00:00Z');
  t.equal(outbox.prune(now, 90), 3);
  t.equal(store.count(), 6, 'matching punches pruned');
  t.same(state(outbox).map((r) => r.seq), [4, 5, 6, 7, 8, 9], 'pending and in-flight rows kept whatever their age');
  t.equal(outbox.settle('attendance', b.batch, now), 3);
  t.equal(outbox.prune(now, 90), 0, 'recently settled rows kept');
  t.equal(outbox.prune(new Date(now.getTime() + 91 * 86_400_000), 90), 3);
  t.equal(outbox.pendingCount('attendance'), 3);
  t.equal(store.count(), 3);
  // Prune everything that is settled, then reopen: numbering continues, no reuse.
  closeDatabase(db);
  const db2 = openDatabase(file);
  t.teardown(() => closeDatabase(db2));
  const ob2 = new Outbox(db2);
  const s2 = new PunchStore(db2, 'G', ob2);
  t.same(s2.append(punch(100)), { id: 'G:10', seq: 10, duplicate: false }, 'gap-free across prune and restart');
  t.equal(s2.lastSeq(), 10);
  t.equal(ob2.stats('attendance').lastSeq, 10);
});

t.test('hasPending is a seek, not a count', async (t) => {
  const { outbox, store } = setup(t);
  t.equal(outbox.hasPending('attendance', 1), false);
  for (let i = 0; i < 5; i++) store.append(punch(i));
  t.equal(outbox.hasPending('attendance', 5), true);
  t.equal(outbox.hasPending('attendance', 6), false);
  t.equal(outbox.takeBatch('recordings', 5), null);
});

t.test('batch bodies hold their records in seq order (SQLite concatenates them)', async (t) => {
  const { db, outbox, store } = setup(t);
  db.transaction(() => {
    for (let i = 0; i < 2300; i++) store.append(punch(i, { clock: `c${i % 7}` }));
  })();
  const seen: number[] = [];
  let b;
  while ((b = outbox.takeBatch('attendance', 500))) {
    const recs = batchRecords(b);
    t.equal(recs.length, b.count);
    t.equal(recs[0].seq, b.firstSeq);
    t.equal(recs[recs.length - 1].seq, b.lastSeq);
    seen.push(...recs.map((r) => r.seq));
    // The re-send path rebuilds the same bytes.
    t.same(outbox.batchPayloads('attendance', b.batch)!.body, b.body);
  }
  t.same(seen, Array.from({ length: 2300 }, (_, i) => i + 1));
});

t.test('takeBatches: k consecutive ranges in seq order, in one claim; partial only when allowed', async (t) => {
  const { db, outbox, store } = setup(t);
  for (let i = 0; i < 23; i++) store.append(punch(i));
  const taken = outbox.takeBatches('attendance', 5, 3);
  t.same(taken.map((b) => [b.firstSeq, b.lastSeq, b.count]), [[1, 5, 5], [6, 10, 5], [11, 15, 5]], 'k ranges, in order');
  t.same(taken.map((b) => batchRecords(b).map((r) => r.seq)), [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10], [11, 12, 13, 14, 15]]);
  t.same(taken.map((b) => b.batch.split('-').slice(0, 2).join('-')), ['attendance-1', 'attendance-6', 'attendance-11']);
  t.equal(new Set(taken.map((b) => b.batch)).size, 3, 'distinct ids');
  t.same(outbox.inflightSummary('attendance').map((s) => [s.batch, s.firstSeq, s.lastSeq, s.count]), taken.map((b) => [b.batch, b.firstSeq, b.lastSeq, 5]));
  for (const b of taken) {
    // The message SQLite assembled is the contract message, byte for byte; a re-send rebuilds it.
    t.same(b.message, batchMessage(b.batch, b.body));
    t.same(JSON.parse(b.message.toString()), { v: 1, batch: b.batch, records: batchRecords(b) });
    t.same(outbox.batchPayloads('attendance', b.batch)!.message, b.message, 're-send: same bytes');
  }
  t.match(outbox.stats('attendance'), { pending: 8, inflight: 15 });

  const full = outbox.takeBatches('attendance', 5, 10, { partial: false });
  t.same(full.map((b) => [b.firstSeq, b.lastSeq]), [[16, 20]], 'stops before a batch that would not be full');
  t.equal(outbox.pendingCount('attendance'), 3, 'the partial read claimed nothing');
  t.same(outbox.takeBatches('attendance', 5, 10, { partial: false }), []);
  const rest = outbox.takeBatches('attendance', 5, 10);
  t.same(rest.map((b) => [b.firstSeq, b.lastSeq, b.count]), [[21, 23, 3]]);
  t.same(outbox.takeBatches('attendance', 5, 10), [], 'nothing pending');
  t.same(outbox.takeBatches('attendance', 5, 0), []);
  t.match(outbox.stats('attendance'), { pending: 0, inflight: 23 });
  t.equal(db.pragma('synchronous', { simple: true }), 2, 'back to synchronous=FULL');
});

t.test('settleMany: one transaction for a burst of acks; a repeated ack settles once', async (t) => {
  const { db, outbox, store } = setup(t);
  for (let i = 0; i < 12; i++) store.append(punch(i));
  const [a, b, c] = outbox.takeBatches('attendance', 4, 3);
  t.same(outbox.settleMany('attendance', [b.batch, a.batch, b.batch, 'attendance-99-deadbeef']), [4, 4, 0, 0]);
  t.same(state(outbox).map((r) => r.state), [2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1]);
  t.same(outbox.settleMany('attendance', []), []);
  t.same(outbox.settleMany('attendance', [a.batch, c.batch]), [0, 4]);
  t.match(outbox.stats('attendance'), { pending: 0, inflight: 0, settled: 12 });
  t.equal(db.pragma('synchronous', { simple: true }), 2, 'back to synchronous=FULL');
});

t.test('takeBatches around holes: a resend below pruned batches skips the missing seqs, never an empty or oversized batch', async (t) => {
  const { outbox, store } = setup(t);
  for (let i = 0; i < 20; i++) store.append(punch(i));
  const four = outbox.takeBatches('attendance', 5, 4);
  t.same(four.map((b) => [b.firstSeq, b.lastSeq, b.count]), [[1, 5, 5], [6, 10, 5], [11, 15, 5], [16, 20, 5]], 'gap-free queue: each batch is the next full range');
  // Batches 1 and 3 settled long ago and pruned; 2 and 4 settled recently and kept.
  const old = new Date('2026-01-01T00:00:00Z');
  const now = new Date('2026-12-04T00:00:00Z');
  outbox.settleMany('attendance', [four[0].batch, four[2].batch], old);
  outbox.settleMany('attendance', [four[1].batch, four[3].batch], now);
  t.equal(outbox.prune(now, 90), 10);
  t.equal(outbox.resendFrom('attendance', 1), 10, 'the kept rows go back to pending');

  const fives = outbox.takeBatches('attendance', 5, 10, { now });
  t.same(fives.map((b) => [b.firstSeq, b.lastSeq, b.count]), [[6, 10, 5], [16, 20, 5]]);
  t.match(fives[0].batch, /^attendance-6-/, 'the id names the first seq really in the batch');
  t.match(fives[1].batch, /^attendance-16-/);
  t.same(batchRecords(fives[1]).map((r) => r.seq), [16, 17, 18, 19, 20]);
  t.same(fives[1].message, batchMessage(fives[1].batch, fives[1].body), 'message = envelope + body');

  outbox.resendFrom('attendance', 1);
  const sevens = outbox.takeBatches('attendance', 7, 10, { now });
  t.same(sevens.map((b) => [b.firstSeq, b.lastSeq, b.count]), [[6, 17, 7], [18, 20, 3]], 'a batch may span a hole; still at most 7 records');
  t.same(batchRecords(sevens[0]).map((r) => r.seq), [6, 7, 8, 9, 10, 16, 17]);
  t.same(outbox.takeBatches('attendance', 7, 10), [], 'nothing left');
  t.equal(outbox.settleMany('attendance', sevens.map((b) => b.batch), now).reduce((a, b) => a + b, 0), 10);
  t.same(outbox.stats('attendance', now), { stream: 'attendance', pending: 0, inflight: 0, settled: 10, oldestPendingAgeSeconds: null, lastAckAt: now.toISOString(), lastSeq: 20 });
});

t.test('takeBatches with partial:false stops at a batch that would not be full, also across a hole', async (t) => {
  const { outbox, store } = setup(t);
  for (let i = 0; i < 12; i++) store.append(punch(i));
  t.same(outbox.takeBatches('attendance', 5, 10, { partial: false }).map((b) => [b.firstSeq, b.lastSeq]), [[1, 5], [6, 10]]);
  t.equal(outbox.pendingCount('attendance'), 2, 'the partial tail stays pending (it lingers to fill)');
  t.same(outbox.takeBatches('attendance', 5, 10).map((b) => [b.firstSeq, b.lastSeq, b.count]), [[11, 12, 2]]);
});
