// SegmentIndex on a real SQLite database: idempotent tables, flags, queries, gaps.
import t from 'tap';
import Database from 'better-sqlite3';
import { SegmentIndex, type SegmentDraft } from '../../streams/index/segment-index.js';

function draft(camera: string, start: string, seconds = 60, extra: Partial<SegmentDraft> = {}): SegmentDraft {
  const s = new Date(start);
  const hh = s.toISOString().slice(11, 19).replace(/:/g, '-');
  return {
    camera,
    path: `${camera}/${s.toISOString().slice(0, 10)}/${hh}.mp4`,
    start: s.toISOString(),
    end: new Date(s.getTime() + seconds * 1000).toISOString(),
    durationSeconds: seconds,
    bytes: 1000,
    sha256: 'a'.repeat(64),
    status: 'ok',
    session: null,
    recovered: false,
    ...extra,
  };
}

t.test('tables are created idempotently, versioned apart from user_version', async (t) => {
  const db = new Database(':memory:');
  db.pragma('user_version = 7'); // sync/'s business
  const a = new SegmentIndex(db);
  a.insert(draft('cam1', '2026-01-01T10:00:00Z'));
  const b = new SegmentIndex(db); // second construction: no error, data kept
  t.equal(b.list().length, 1);
  t.equal(db.pragma('user_version', { simple: true }), 7, 'user_version untouched');
  t.same(db.prepare(`SELECT * FROM streams_schema`).all(), [{ component: 'segment-index', version: 1 }]);
  db.prepare(`UPDATE streams_schema SET version = 99`).run();
  t.throws(() => new SegmentIndex(db), /newer than this software/);
});

t.test('insert, byPath, list filters, flags, deletable candidates, totals', async (t) => {
  const idx = new SegmentIndex(new Database(':memory:'));
  const first = idx.insert(draft('cam1', '2026-01-01T10:00:00Z', 60, { session: 'S1', recovered: true }));
  t.equal(first.created, true);
  t.equal(idx.insert(draft('cam1', '2026-01-01T10:00:00Z')).created, false, 'idempotent on path');
  idx.insert(draft('cam1', '2026-01-01T10:01:00Z'));
  idx.insert(draft('cam2', '2026-01-01T10:00:30Z', 60, { status: 'corrupt' }));
  const s = idx.byPath('cam1/2026-01-01/10-00-00.mp4')!;
  t.match(s, { camera: 'cam1', session: 'S1', recovered: true, queued: false, uploaded: false, inspected: false });
  t.equal(idx.list({ camera: 'cam1' }).length, 2);
  t.equal(idx.list({ from: '2026-01-01T10:00:30.000Z' }).length, 2);
  t.equal(idx.list({ to: '2026-01-01T10:00:30.000Z' }).length, 1);
  t.equal(idx.list({ status: 'corrupt' }).length, 1);
  t.equal(idx.list({ limit: 1 }).length, 1);

  t.equal(idx.unqueued().length, 3);
  idx.markQueued([s.id]);
  t.same(idx.unqueued().map((x) => x.id).includes(s.id), false);

  const cutoff = '2026-01-01T09:00:00.000Z';
  t.same(idx.deletableCandidates(cutoff), [], 'nothing uploaded, nothing expired: all protected');
  idx.markUploaded([s.id]);
  const cam2 = idx.list({ camera: 'cam2' })[0];
  idx.markInspected([cam2.id]);
  t.same(idx.deletableCandidates(cutoff).map((x) => x.id), [s.id, cam2.id], 'oldest first');
  t.equal(idx.deletableCandidates('2026-01-02T00:00:00.000Z').length, 3, 'past retention: all');

  t.equal(idx.previous('cam1', '2026-01-01T10:01:00.000Z')?.id, s.id);
  idx.markMissing([s.id]);
  t.equal(idx.byId(s.id)?.status, 'missing');
  t.equal(idx.previous('cam1', '2026-01-01T10:01:00.000Z'), null, 'missing rows are not a previous segment');

  const tot = idx.totals();
  t.match(tot, { count: 3, bytes: 3000, protectedCount: 1, byStatus: { ok: 1, corrupt: 1, missing: 1 } });
  idx.delete([s.id]);
  t.equal(idx.list().length, 2);
});

t.test('gaps are recorded once', async (t) => {
  const idx = new SegmentIndex(new Database(':memory:'));
  t.equal(idx.insertGap('cam1', '2026-01-01T10:00:00.000Z', '2026-01-01T10:00:30.000Z', 30), true);
  t.equal(idx.insertGap('cam1', '2026-01-01T10:00:00.000Z', '2026-01-01T10:00:30.000Z', 30), false);
  t.same(idx.gaps('cam1'), [{ id: 1, camera: 'cam1', from: '2026-01-01T10:00:00.000Z', to: '2026-01-01T10:00:30.000Z', seconds: 30 }]);
});
