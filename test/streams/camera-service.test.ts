// The Cameras service end to end: real RTSP server, real ffmpeg, SQLite index.
import t from 'tap';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRtspServer, rtspServerMissing } from '../helpers/rtsp-server.js';
import { freePort } from '../helpers/free-port.js';
import { needs } from '../helpers/which.js';
import { Cameras } from '../../streams/camera-service.js';
import type { CameraEvent, SegmentInfo } from '../../streams/types.js';
import { until } from './fixtures/recorder-setup.js';

const skip = needs('ffmpeg') || needs('ffprobe', 'ffmpeg') || rtspServerMissing();

t.test('Cameras: records, sessions, status, snapshots, disk reserve pause/resume, restart', { skip }, async (t) => {
  const server = await startRtspServer({ fps: 10 });
  t.teardown(() => server.stop());
  const dataDir = mkdtempSync(join(tmpdir(), 'tpgw-cams-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const db = new Database(join(dataDir, 'gw.db'));
  t.teardown(() => db.close());
  const deadPort = await freePort();
  let free = 10e9;
  const make = () =>
    new Cameras({
      cameras: [
        { id: 'cam1', name: 'Front', rtspUrl: server.url, record: 'always' },
        { id: 'cam2', rtspUrl: `rtsp://admin:hunter2@127.0.0.1:${deadPort}/x`, record: 'off' },
      ],
      ffmpeg: { stopGraceSeconds: 3, stallSeconds: 10 },
      recordings: { segmentSeconds: 2, format: 'mp4', keepDays: 30, minFreeGB: 0, reserveForDatabaseMB: 1, gapSeconds: 5 },
      snapshots: { intervalSeconds: 60, maxBytes: 512 * 1024 },
      dataDir,
      db,
      freeBytes: async () => free,
      backoff: { initialMs: 1000, maxMs: 2000, factor: 2, jitter: 0 },
    });
  const cams = make();
  const segments: SegmentInfo[] = [];
  const events: CameraEvent[] = [];
  cams.on('segment', (s) => segments.push(s));
  cams.on('event', (e) => events.push(e));
  await cams.start();
  t.teardown(() => cams.stop());
  t.match(cams.binaries, { ffmpeg: { source: /config|env|path|bundled/ }, ffprobe: { source: /config|env|path/ } });

  await until('a segment', () => segments.length >= 1);
  cams.setSession('lesson-42');
  await until('a segment of the session', () => segments.some((s) => s.session === 'lesson-42'));
  const st = cams.status();
  t.match(st[0], { id: 'cam1', name: 'Front', online: true, recording: true });
  t.match(st[1], { id: 'cam2', recording: false, streamUrl: `rtsp://***@127.0.0.1:${deadPort}/x` });
  t.notMatch(JSON.stringify(st), /hunter2/);

  const jpeg = await cams.snapshot('cam1');
  t.same([jpeg[0], jpeg[1]], [0xff, 0xd8], 'a JPEG');
  const err = await cams.snapshot('cam2').catch((e: Error) => e);
  t.ok(err instanceof Error, 'unreachable camera: error');
  t.notMatch((err as Error).message, /hunter2/);
  await t.rejects(cams.snapshot('nope'), /unknown camera/);

  // Free space falls into the database reserve: recording stops, and resumes with space.
  free = 512 * 1024;
  await cams.runRetention();
  await until('recording stopped', () => !cams.status()[0].recording);
  t.ok(events.some((e) => e.type === 'disk-low'));
  free = 10e9;
  await cams.runRetention();
  await until('recording again', () => cams.status()[0].recording);

  const n = segments.length;
  await until('more segments', () => segments.length >= n + 1);
  await cams.stop();
  t.equal(cams.status()[0].recording, false);
  const indexed = cams.index.list({ camera: 'cam1' });
  t.equal(indexed.length, segments.length, 'every emitted segment is indexed');
  t.ok(indexed.every((s) => s.status === 'ok'), JSON.stringify(indexed.filter((s) => s.status !== 'ok')));

  // Restart on the same database and directory: nothing to recover, nothing missing.
  const again = make();
  const evAgain: CameraEvent[] = [];
  again.on('event', (e) => evAgain.push(e));
  await again.start();
  await again.stop();
  t.same(evAgain.filter((e) => e.type === 'segment-missing' || e.type === 'segment-corrupt'), []);
  t.ok(again.index.list({ camera: 'cam1' }).every((s) => !s.recovered), 'nothing recovered after a clean stop');
});
