// Retention against a tiny fake disk budget: free = budget - bytes under the recordings dir.
import t from 'tap';
import Database from 'better-sqlite3';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { SegmentIndex } from '../../streams/index/segment-index.js';
import { Retention } from '../../streams/retention/retention.js';
import type { CameraEvent } from '../../streams/types.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 5, 15, 12, 0, 0);
const KB = 1024;

function usedBytes(dir: string): number {
  let sum = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    sum += e.isDirectory() ? usedBytes(p) : statSync(p).size;
  }
  return sum;
}

function world(t: { teardown(fn: () => void): void }, budget: number, opts: { minFree: number; reserve: number; keepDays?: number }) {
  const dir = mkdtempSync(join(tmpdir(), 'tpgw-ret-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const index = new SegmentIndex(new Database(':memory:'));
  const events: CameraEvent[] = [];
  const allowed: boolean[] = [];
  const retention = new Retention({
    index,
    recordingsDir: dir,
    keepDays: opts.keepDays ?? 30,
    minFreeBytes: opts.minFree,
    reserveBytes: opts.reserve,
    freeBytes: async () => budget - usedBytes(dir),
    now: () => NOW,
  });
  retention.on('event', (e) => events.push(e));
  retention.on('recording-allowed', (a) => allowed.push(a));
  /** A 10 KB segment file `ageMs` old, indexed. */
  const add = (camera: string, ageMs: number, flags: { uploaded?: boolean; inspected?: boolean } = {}) => {
    const start = new Date(NOW - ageMs);
    const rel = `${camera}/${start.toISOString().slice(0, 10)}/${start.toISOString().slice(11, 19).replace(/:/g, '-')}.mp4`;
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), Buffer.alloc(10 * KB));
    const { segment } = index.insert({
      camera, path: rel, start: start.toISOString(), end: new Date(start.getTime() + 60_000).toISOString(),
      durationSeconds: 60, bytes: 10 * KB, sha256: '0'.repeat(64), status: 'ok', session: null, recovered: false,
    });
    if (flags.uploaded) index.markUploaded([segment.id]);
    if (flags.inspected) index.markInspected([segment.id]);
    return segment;
  };
  return { dir, index, retention, events, allowed, add };
}

t.test('deletes past keepDays regardless of upload state, and removes empty day dirs', async (t) => {
  const w = world(t, 10_000 * KB, { minFree: 0, reserve: 0, keepDays: 7 });
  const old = w.add('cam1', 10 * DAY);
  const recent = w.add('cam1', 1 * DAY);
  const r = await w.retention.run();
  t.equal(r.deletedExpired, 1);
  t.equal(w.index.byId(old.id), null);
  t.ok(w.index.byId(recent.id));
  t.notOk(existsSync(join(w.dir, old.path)));
  t.notOk(existsSync(dirname(join(w.dir, old.path))), 'empty day directory removed');
  t.ok(existsSync(join(w.dir, recent.path)));
});

t.test('short of space: uploaded/inspected oldest first; protected kept; disk-full; recording stops below the reserve and resumes', async (t) => {
  // Budget 100 KB; want 30 KB free (20 min + 10 reserve). Eight 10 KB segments: 20 KB free.
  let budget = 100 * KB;
  const w = world(t, 0, { minFree: 20 * KB, reserve: 10 * KB });
  (w.retention as unknown as { freeBytes: () => Promise<number> }).freeBytes = async () => budget - usedBytes(w.dir);
  const protectedOld = w.add('cam1', 8 * 3600_000);
  const uploadedOld = w.add('cam1', 7 * 3600_000, { uploaded: true });
  const inspected = w.add('cam2', 6 * 3600_000, { inspected: true });
  const uploadedNew = w.add('cam1', 5 * 3600_000, { uploaded: true });
  for (let i = 4; i >= 1; i--) w.add('cam2', i * 3600_000);
  let r = await w.retention.run();
  t.equal(r.deletedForSpace, 1, 'one segment frees enough');
  t.equal(w.index.byId(uploadedOld.id), null, 'the oldest uploaded went first');
  t.ok(w.index.byId(protectedOld.id), 'older but awaiting upload: kept');
  t.ok(w.index.byId(inspected.id));
  t.equal(r.short, false);
  t.same(w.events, []);

  // Squeeze: 70 KB used, 5 KB free: both remaining deletable go (25 KB free) and it is still
  // short of 30 KB, but above the 10 KB database reserve.
  budget = 75 * KB;
  r = await w.retention.run();
  t.equal(w.index.byId(inspected.id), null);
  t.equal(w.index.byId(uploadedNew.id), null);
  t.ok(w.index.byId(protectedOld.id), 'protected segment never deleted within retention');
  t.equal(r.short, true);
  t.equal(w.events.filter((e) => e.type === 'disk-full').length, 1, 'disk-full raised');
  t.equal(r.recordingAllowed, true, 'still above the database reserve: keep recording');
  await w.retention.run();
  t.equal(w.events.filter((e) => e.type === 'disk-full').length, 1, 'raised once per episode');

  // Below the database reserve: recording must stop.
  budget = usedBytes(w.dir) + 5 * KB;
  r = await w.retention.run();
  t.equal(r.recordingAllowed, false);
  t.same(w.allowed, [false]);
  t.ok(w.events.some((e) => e.type === 'disk-low'));
  t.equal(w.index.totals().count, 5, 'protected segments all kept');

  // Space comes back (e.g. uploads confirmed and deleted, or an operator freed space).
  budget = usedBytes(w.dir) + 200 * KB;
  r = await w.retention.run();
  t.equal(r.recordingAllowed, true);
  t.same(w.allowed, [false, true]);
  t.equal(r.short, false);
});
