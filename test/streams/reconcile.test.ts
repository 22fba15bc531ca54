// Start-up reconciliation on real media files made with ffmpeg (lavfi testsrc).
import t from 'tap';
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync, readFileSync, truncateSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { needs } from '../helpers/which.js';
import { SegmentIndex } from '../../streams/index/segment-index.js';
import { SegmentSink } from '../../streams/recorder/segment-sink.js';
import { reconcile } from '../../streams/recorder/reconcile.js';
import type { CameraEvent } from '../../streams/types.js';

const skip = needs('ffmpeg') || needs('ffprobe', 'ffmpeg');

function makeClip(file: string, seconds: number): void {
  execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `testsrc=size=160x120:rate=10`, '-t', String(seconds),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '10', '-pix_fmt', 'yuv420p',
    '-movflags', '+frag_keyframe+empty_moov+default_base_moof', '-y', file,
  ]);
}

t.test('reconcile: unindexed files recovered, half-written ones too, corrupt marked, missing reported', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tpgw-recon-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const index = new SegmentIndex(new Database(':memory:'));
  const sink = new SegmentSink(index, 5);
  const events: CameraEvent[] = [];
  sink.on('event', (e) => events.push(e));
  const day = join(dir, 'cam1', '2026-03-01');
  mkdirSync(day, { recursive: true });
  mkdirSync(join(dir, 'cam1', '.partial'), { recursive: true });
  // 1. A complete segment in the layout the index does not know (died between move and insert).
  makeClip(join(day, '10-00-00.mp4'), 2);
  // 2. A segment ffmpeg was writing when killed: cut mid-fragment.
  const partial = join(dir, 'cam1', '.partial', '1740000000000-00003.mp4');
  makeClip(partial, 4);
  truncateSync(partial, Math.floor(statSync(partial).size * 0.7));
  // 3. Garbage.
  writeFileSync(join(day, '10-00-04.mp4'), Buffer.from('not a video at all'));
  // 4. An indexed segment whose file is gone.
  const gone = index.insert({
    camera: 'cam1', path: 'cam1/2026-03-01/09-00-00.mp4', start: '2026-03-01T09:00:00.000Z', end: '2026-03-01T09:01:00.000Z',
    durationSeconds: 60, bytes: 1, sha256: '0'.repeat(64), status: 'ok', session: null, recovered: false,
  }).segment;

  const r = await reconcile({ recordingsDir: dir, ffprobe: 'ffprobe', sink, session: () => 'S9', onEvent: (e) => events.push(e) });
  t.equal(r.recovered.length, 3);
  const layout = index.byPath('cam1/2026-03-01/10-00-00.mp4')!;
  t.match(layout, { status: 'ok', recovered: true, start: '2026-03-01T10:00:00.000Z', session: 'S9' });
  t.ok(Math.abs(layout.durationSeconds - 2) < 0.2, `duration ${layout.durationSeconds}`);
  t.equal(layout.sha256, (await import('node:crypto')).createHash('sha256').update(readFileSync(join(day, '10-00-00.mp4'))).digest('hex'));

  const fromPartial = r.recovered.find((s) => s.path !== layout.path && s.status === 'ok')!;
  t.ok(fromPartial, 'the truncated fragmented MP4 is playable');
  t.ok(fromPartial.durationSeconds > 0 && fromPartial.durationSeconds <= 4, `partial plays ${fromPartial.durationSeconds} s`);
  t.match(fromPartial.path, /^cam1\/\d{4}-\d{2}-\d{2}\/\d{2}-\d{2}-\d{2}(_\d+)?\.mp4$/, 'moved into the layout');
  t.notOk(existsSync(partial));

  const corrupt = index.byPath('cam1/2026-03-01/10-00-04.mp4')!;
  t.equal(corrupt.status, 'corrupt', 'garbage is indexed as corrupt, not dropped');
  t.ok(events.some((e) => e.type === 'segment-corrupt' && e.detail?.path === corrupt.path));

  t.same(r.missing.map((s) => s.id), [gone.id]);
  t.equal(index.byId(gone.id)?.status, 'missing');
  t.ok(events.some((e) => e.type === 'segment-missing' && e.detail?.id === gone.id));

  // Idempotent: a second pass finds nothing new and reports nothing again.
  const again = await reconcile({ recordingsDir: dir, ffprobe: 'ffprobe', sink, session: () => null });
  t.same([again.recovered.length, again.missing.length], [0, 0]);

  // A file deleted behind our back later is found missing on the next start.
  unlinkSync(join(day, '10-00-00.mp4'));
  const third = await reconcile({ recordingsDir: dir, ffprobe: 'ffprobe', sink, session: () => null });
  t.same(third.missing.map((s) => s.path), ['cam1/2026-03-01/10-00-00.mp4']);
});
