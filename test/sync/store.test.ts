import t from 'tap';
import { join } from 'node:path';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import BetterSqlite3 from 'better-sqlite3';
import { openDatabase, closeDatabase, StoreCorruptError } from '../../sync/store/database.js';
import { migrate, migrations, latestVersion } from '../../sync/store/migrations.js';
import { PunchStore } from '../../sync/store/punch-store.js';
import { EnrollmentStore } from '../../sync/store/enrollment-store.js';
import { KvStore } from '../../sync/store/kv-store.js';
import { Outbox } from '../../sync/outbox/outbox.js';
import { tempDir, punch } from './fixtures.js';

t.test('open: WAL, synchronous=FULL, foreign keys, schema at latest version, parent dir created', async (t) => {
  const file = join(tempDir(t), 'nested', 'deeper', 'tpgw.db');
  const db = openDatabase(file);
  t.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  t.equal(db.pragma('synchronous', { simple: true }), 2, 'FULL');
  t.equal(db.pragma('foreign_keys', { simple: true }), 1);
  t.equal(db.pragma('user_version', { simple: true }), latestVersion);
  const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
  t.same(tables, ['counters', 'enrollments', 'kv', 'outbox_attendance', 'outbox_batches', 'outbox_corrections', 'outbox_recordings', 'punch_keys', 'punches', 'stream_meta']);
  closeDatabase(db);
  t.notOk(existsSync(file + '-wal') && readFileSync(file + '-wal').length > 0, 'WAL folded into the main file on close');
});

t.test('durability: punches survive close and reopen; ids and seqs are gap-free', async (t) => {
  const file = join(tempDir(t), 'tpgw.db');
  let db = openDatabase(file);
  let store = new PunchStore(db, 'G1', new Outbox(db));
  for (let i = 0; i < 5; i++) t.same(store.append(punch(i)), { id: `G1:${i + 1}`, seq: i + 1, duplicate: false });
  // Simulate a crash: close without checkpoint (the WAL must carry the commits).
  db.close();
  db = openDatabase(file);
  store = new PunchStore(db, 'G1', new Outbox(db));
  t.equal(store.count(), 5);
  t.equal(store.lastSeq(), 5);
  const p = store.get('G1:3');
  t.ok(p);
  t.match(p, { seq: 3, clock: 'c1', user: '1002', verify: 'fingerprint', clockSynced: true, bootId: 'boot-1', state: 'pending', batch: null });
  t.equal(p!.monoNs, (123456789012345678n + 2n).toString(), 'bigint monotonic reading kept exactly');
  t.equal(p!.time, punch(2).time, 'time keeps its offset form');
  t.same(store.append(punch(9)), { id: 'G1:6', seq: 6, duplicate: false });
  closeDatabase(db);
});

t.test('append stores everything and queues the wire record', async (t) => {
  const db = openDatabase(join(tempDir(t), 'tpgw.db'));
  t.teardown(() => closeDatabase(db));
  const outbox = new Outbox(db);
  const store = new PunchStore(db, 'G', outbox);
  store.append(punch(0, { person: 'p-7', session: 's-1', extra: { page: 12 }, time: '2026-12-04T09:00:00+01:00' }));
  const row = db.prepare('SELECT * FROM outbox').get() as { stream: string; record_id: string; order_key: string; payload: string };
  t.match(row, { stream: 'attendance', record_id: 'G:1', order_key: 'c1' });
  t.equal(outbox.pendingCount('attendance'), 1);
  t.same(JSON.parse(row.payload), {
    id: 'G:1', seq: 1, clock: 'c1', user: '1000', time: '2026-12-04T09:00:00+01:00', verify: 'fingerprint', clockSynced: true,
    receivedAt: punch(0).receivedAt, bootId: 'boot-1', monoNs: '123456789012345678', person: 'p-7', session: 's-1', extra: { page: 12 },
  });
  const since = store.list({ since: '2026-12-04T08:00:00Z' });
  t.equal(since.length, 1, 'since compares instants, not strings (09:00+01:00 == 08:00Z)');
  t.equal(store.list({ since: '2026-12-04T08:00:01Z' }).length, 0);
  t.throws(() => store.append(punch(1, { time: 'yesterday' })), /ISO-8601/);
  t.throws(() => store.append(punch(1, { time: '2026-12-04T08:00:00' })), /with offset/, 'no offset: ambiguous, refused');
  t.throws(() => store.append(punch(1, { receivedAt: '2026-12-04' })), /receivedAt/);
  t.throws(() => store.append(punch(1, { time: '2026-13-45T08:00:00Z' })), /ISO-8601/, 'impossible date refused');
  t.equal(store.count(), 1, 'bad punch stored nothing');
  t.equal(store.lastSeq(), 1, 'and burned no seq');
});

t.test('dedupe key: a second append returns the first id and stores nothing', async (t) => {
  const db = openDatabase(join(tempDir(t), 'tpgw.db'));
  t.teardown(() => closeDatabase(db));
  const outbox = new Outbox(db);
  const store = new PunchStore(db, 'G', outbox);
  const a = store.append(punch(0, { dedupeKey: 'zk:SN1:7:2026-12-04T08:00:00' }));
  store.append(punch(1));
  const b = store.append(punch(2, { dedupeKey: 'zk:SN1:7:2026-12-04T08:00:00' }));
  t.same(a, { id: 'G:1', seq: 1, duplicate: false });
  t.same(b, { id: 'G:1', seq: 1, duplicate: true });
  t.equal(store.count(), 2);
  t.equal(outbox.pendingCount('attendance'), 2);
  t.same(store.append(punch(3)), { id: 'G:3', seq: 3, duplicate: false }, 'no gap after a duplicate');
});

t.test('allSettled: true only when every keyed punch is settled; keys outlive pruning', async (t) => {
  const db = openDatabase(join(tempDir(t), 'tpgw.db'));
  t.teardown(() => closeDatabase(db));
  const outbox = new Outbox(db);
  const store = new PunchStore(db, 'G', outbox);
  const keys = ['zk:SN1:1:2026-12-04T08:00:00', 'zk:SN1:2:2026-12-04T08:00:01'];
  store.append(punch(0, { dedupeKey: keys[0] }));
  store.append(punch(1, { dedupeKey: keys[1] }));
  t.equal(store.allSettled(keys), false, 'pending is not settled');
  t.equal(store.allSettled([...keys, 'zk:SN1:9:never-stored']), false, 'an unknown key is not settled');
  const first = outbox.takeBatch('attendance', 1)!;
  outbox.settle('attendance', first.batch);
  t.equal(store.allSettled(keys), false, 'one of two still pending');
  const second = outbox.takeBatch('attendance', 10)!;
  t.equal(store.allSettled(keys), false, 'in flight is not settled');
  outbox.settle('attendance', second.batch);
  t.equal(store.allSettled(keys), true, 'both settled');
  t.equal(store.allSettled([]), true, 'nothing to settle');

  // After pruning, the punches are gone but a re-downloaded record is still recognised.
  t.ok(outbox.prune(new Date(Date.now() + 2 * 86_400_000), 1) >= 2, 'settled rows pruned');
  t.equal(store.count(), 0);
  t.equal(store.allSettled(keys), true, 'pruned punches were settled');
  const again = store.append(punch(5, { dedupeKey: keys[0] }));
  t.same(again, { id: 'G:1', seq: 1, duplicate: true }, 'an old record downloaded again is not stored as a new punch');
  t.equal(store.count(), 0);
});

t.test('list: sinceSeq and limit', async (t) => {
  const db = openDatabase(join(tempDir(t), 'tpgw.db'));
  t.teardown(() => closeDatabase(db));
  const store = new PunchStore(db, 'G', new Outbox(db));
  for (let i = 0; i < 20; i++) store.append(punch(i));
  t.same(store.list({ sinceSeq: 15 }).map((p) => p.seq), [16, 17, 18, 19, 20]);
  t.same(store.list({ sinceSeq: 2, limit: 3 }).map((p) => p.seq), [3, 4, 5]);
  t.equal(store.list().length, 20);
  t.throws(() => store.list({ since: 'nope' }), /ISO-8601/);
});

t.test('corrupt file: clear StoreCorruptError naming the file, file kept untouched', async (t) => {
  const dir = tempDir(t);
  const notDb = join(dir, 'not-a-db.db');
  const junk = Buffer.from('this is not a sqlite database at all, just some bytes '.repeat(200));
  writeFileSync(notDb, junk);
  let err: unknown;
  try {
    openDatabase(notDb);
  } catch (e) {
    err = e;
  }
  t.ok(err instanceof StoreCorruptError, 'StoreCorruptError');
  t.match((err as Error).message, notDb, 'names the file');
  t.match((err as Error).message, /left untouched/);
  t.same(readFileSync(notDb), junk, 'not-a-database file left byte for byte');

  // A real database with damaged pages.
  const file = join(dir, 'damaged.db');
  const db = openDatabase(file);
  const store = new PunchStore(db, 'G', new Outbox(db));
  db.transaction(() => {
    for (let i = 0; i < 3000; i++) store.append(punch(i, { raw: 'x'.repeat(200) }));
  })();
  closeDatabase(db);
  const bytes = readFileSync(file);
  const pageSize = 4096;
  // Scribble over a few pages in the middle (not the header): b-tree pages become garbage.
  for (let p = 5; p < 12; p++) bytes.fill(0x5a, p * pageSize, p * pageSize + pageSize);
  writeFileSync(file, bytes);
  t.throws(() => openDatabase(file), StoreCorruptError);
  t.same(readFileSync(file), bytes, 'damaged file left byte for byte');
});

t.test('migrations: idempotent, each in a transaction, newer schema refused', async (t) => {
  const file = join(tempDir(t), 'tpgw.db');
  closeDatabase(openDatabase(file));
  const db = openDatabase(file);
  t.same(migrate(db), [], 'second run applies nothing');
  const raw = new BetterSqlite3(':memory:');
  t.same(migrate(raw), migrations.map((m) => m.version));
  t.same(migrate(raw), []);
  // A migration that fails leaves the version where it was.
  const failing = [...migrations, { version: latestVersion + 1, name: 'boom', up: (d: typeof raw) => (d.exec('CREATE TABLE half(x)'), (() => { throw new Error('boom'); })()) }];
  t.throws(() => migrate(raw, failing), /boom/);
  t.equal(raw.pragma('user_version', { simple: true }), latestVersion);
  t.equal((raw.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name='half'").get() as { n: number }).n, 0, 'rolled back');
  raw.pragma(`user_version = ${latestVersion + 5}`);
  t.throws(() => migrate(raw), /newer than this tpgw/);
  raw.close();
  closeDatabase(db);
});

t.test('enrollments and kv', async (t) => {
  const db = openDatabase(join(tempDir(t), 'tpgw.db'));
  t.teardown(() => closeDatabase(db));
  const en = new EnrollmentStore(db);
  en.set('c1', 3, 'person-a');
  en.set('c1', 1, 'person-b');
  en.set('c2', 3, 'person-c');
  en.set('c1', 3, 'person-z');
  t.equal(en.get('c1', 3), 'person-z', 'set replaces');
  t.same(en.list('c1').map((e) => [e.page, e.person]), [[1, 'person-b'], [3, 'person-z']]);
  t.equal(en.remove('c1', 1), true);
  t.equal(en.remove('c1', 1), false);
  t.equal(en.get('c1', 1), undefined);
  t.throws(() => en.set('c1', -1, 'x'));
  const kv = new KvStore(db);
  t.equal(kv.get('a'), undefined);
  kv.set('a', '1');
  kv.set('a', '2');
  t.equal(kv.get('a'), '2');
  kv.delete('a');
  t.equal(kv.get('a'), undefined);
});

t.test('migration 3: a v2 outbox moves to one table per stream with every record, state and byte intact', async (t) => {
  const file = join(tempDir(t), 'tpgw.db');
  // A store as version 2 left it: rows of both streams, a settled batch, an in-flight one, pending rows.
  const v2 = new BetterSqlite3(file);
  migrate(v2, migrations.filter((m) => m.version <= 2));
  const insert = v2.prepare('INSERT INTO outbox(stream, seq, record_id, order_key, payload, created_at) VALUES (?, ?, ?, ?, ?, ?)');
  for (let seq = 1; seq <= 7; seq++) insert.run('attendance', seq, `G:${seq}`, 'c1', JSON.stringify({ id: `G:${seq}`, seq }), '2026-12-01T08:00:00.000Z');
  for (let seq = 1; seq <= 3; seq++) insert.run('recordings', seq, `G:r${seq}`, 'cam1', JSON.stringify({ id: `G:r${seq}`, seq }), '2026-12-01T08:00:00.000Z');
  const batch = v2.prepare('INSERT INTO outbox_batches(stream, batch, first_seq, last_seq, records, state, sent_at, attempts, settled_at) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?)');
  batch.run('attendance', 'attendance-1-aaaa', 1, 3, 3, 2, '2026-12-01T08:00:01.000Z', '2026-12-01T08:00:02.000Z');
  batch.run('attendance', 'attendance-4-bbbb', 4, 5, 2, 1, '2026-12-01T08:00:03.000Z', null);
  batch.run('recordings', 'recordings-1-cccc', 1, 1, 1, 1, '2026-12-01T08:00:03.000Z', null);
  v2.exec("INSERT INTO stream_meta(stream, claimed_seq) VALUES ('attendance', 5), ('recordings', 1)");
  v2.close();

  const db = openDatabase(file);
  t.teardown(() => closeDatabase(db));
  t.equal(db.pragma('user_version', { simple: true }), latestVersion);
  const outbox = new Outbox(db);
  t.same(outbox.states('attendance').map((s) => s.state), ['settled', 'settled', 'settled', 'inflight', 'inflight', 'pending', 'pending']);
  t.same(outbox.states('recordings').map((s) => s.state), ['inflight', 'pending', 'pending']);
  t.same(outbox.batchPayloads('attendance', 'attendance-4-bbbb')!.message.toString(), '{"v":1,"batch":"attendance-4-bbbb","records":[{"id":"G:4","seq":4},{"id":"G:5","seq":5}]}', 'in-flight batch re-sent with the same bytes');
  const next = outbox.takeBatch('attendance', 10)!;
  t.same([next.firstSeq, next.lastSeq, next.count], [6, 7, 2], 'pending rows are the next batch');
  t.same(db.prepare("SELECT stream, record_id FROM outbox WHERE seq = 2 ORDER BY stream").all(), [
    { stream: 'attendance', record_id: 'G:2' },
    { stream: 'recordings', record_id: 'G:r2' },
  ], 'the old name reads the same rows (a view)');
});
