// Recording with real ffmpeg against a real RTSP server (gst-rtsp-server on loopback).
import t from 'tap';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRtspServer, rtspServerMissing } from '../helpers/rtsp-server.js';
import { needs } from '../helpers/which.js';
import { SegmentIndex } from '../../streams/index/segment-index.js';
import { SegmentSink } from '../../streams/recorder/segment-sink.js';
import { CameraRecorder } from '../../streams/recorder/camera-recorder.js';
import { reconcile } from '../../streams/recorder/reconcile.js';
import { probeFile } from '../../streams/ffmpeg/probe.js';
import type { CameraEvent, SegmentInfo } from '../../streams/types.js';

const skip = needs('ffmpeg') || needs('ffprobe', 'ffmpeg') || rtspServerMissing();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function setup(t: { teardown(fn: () => unknown): void }, url: () => string, gapSeconds = 5) {
  const dir = mkdtempSync(join(tmpdir(), 'tpgw-rec-'));
  const db = new Database(':memory:');
  const index = new SegmentIndex(db);
  const sink = new SegmentSink(index, gapSeconds);
  const segments: SegmentInfo[] = [];
  const events: CameraEvent[] = [];
  sink.on('segment', (s) => segments.push(s));
  sink.on('event', (e) => events.push(e));
  const recorder = new CameraRecorder({
    camera: 'cam1',
    recordingsDir: dir,
    ffmpeg: 'ffmpeg',
    ffprobe: 'ffprobe',
    format: 'mp4',
    segmentSeconds: 2,
    stopGraceMs: 3000,
    stallMs: 8000,
    resolveUrl: async () => url(),
    sink,
    session: () => 'S1',
    backoff: { initialMs: 1000, maxMs: 2000, factor: 2, jitter: 0 },
  });
  recorder.on('event', (e) => events.push(e));
  t.teardown(async () => {
    await recorder.stop();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, db, index, sink, segments, events, recorder };
}

t.test('segments appear, probe valid, and add up to the recorded time', { skip }, async (t) => {
  const server = await startRtspServer({ fps: 10, gopSeconds: 1 });
  t.teardown(() => server.stop());
  const { dir, index, segments, recorder } = setup(t, () => server.url);
  let spawnedAt = 0;
  recorder.supervisor.once('start', () => (spawnedAt = Date.now()));
  recorder.start();
  await until('4 segments', () => segments.length >= 4);
  const stoppedAt = Date.now();
  await recorder.stop();
  // ffmpeg reads the stream from shortly after its spawn until the stop: that is the recorded time.
  const recordedSeconds = (stoppedAt - spawnedAt) / 1000;
  const all = index.list({ camera: 'cam1' });
  t.ok(all.length >= 5, `${all.length} segments indexed (the last one closed by the graceful stop)`);
  let total = 0;
  for (const s of all) {
    t.equal(s.status, 'ok', `${s.path} ok`);
    t.match(s.path, /^cam1\/\d{4}-\d{2}-\d{2}\/\d{2}-\d{2}-\d{2}(_\d+)?\.mp4$/);
    t.match(s.sha256, /^[0-9a-f]{64}$/);
    t.equal(s.session, 'S1');
    t.equal(s.recovered, false);
    const probe = await probeFile('ffprobe', join(dir, s.path));
    t.ok(probe.ok, `${s.path} probes valid`);
    t.ok(probe.streams.some((x) => x.type === 'video' && x.codec === 'h264'), 'h264 video');
    total += s.durationSeconds;
  }
  // Durations add up to the recorded time within one segment (2 s; segments end on keyframes).
  // Media cannot exceed the time ffmpeg was running (the server's source is live).
  t.ok(total <= recordedSeconds + 0.5, `sum ${total.toFixed(2)} s <= recorded ${recordedSeconds.toFixed(2)} s`);
  t.ok(total >= recordedSeconds - 2 - 1, `sum ${total.toFixed(2)} s within a segment (+1 s connect) of it`);
  t.same(readdirSync(join(dir, 'cam1', '.partial')), [], 'nothing left half-written');
  t.same(index.gaps('cam1'), [], 'no gaps');
});

t.test('SIGKILL of ffmpeg mid-segment leaves a playable partial segment, recovered', { skip }, async (t) => {
  const server = await startRtspServer({ fps: 10, gopSeconds: 1 });
  t.teardown(() => server.stop());
  const { dir, index, segments, recorder, sink } = setup(t, () => server.url);
  // A long segment so that the kill surely lands mid-segment, several fragments in.
  (recorder as unknown as { opts: { segmentSeconds: number } }).opts.segmentSeconds = 30;
  recorder.start();
  await until('ffmpeg writing frames', () => (recorder.supervisor.lastProgress?.frame ?? 0) >= 35);
  const pid = recorder.supervisor.pid!;
  process.kill(pid, 'SIGKILL');
  await until('the partial segment recovered', () => segments.some((s) => s.recovered));
  await recorder.stop();
  const rec = index.list().filter((s) => s.recovered);
  t.equal(rec.length, 1, 'one recovered segment');
  t.equal(rec[0].status, 'ok', 'playable');
  t.ok(rec[0].durationSeconds >= 2, `recovered ${rec[0].durationSeconds} s`);
  const probe = await probeFile('ffprobe', join(dir, rec[0].path));
  t.ok(probe.ok, 'probes valid after the kill');
  t.ok(existsSync(join(dir, rec[0].path)));
  // Start-up reconciliation of the same directory finds nothing new.
  const again = await reconcile({ recordingsDir: dir, ffprobe: 'ffprobe', sink, session: () => null });
  t.same(again.recovered.length, 0);
});

t.test('RTSP server goes away and comes back: recording resumes, gap recorded', { skip }, async (t) => {
  const server = await startRtspServer({ fps: 10, gopSeconds: 1 });
  t.teardown(() => server.stop());
  const { index, segments, events, recorder } = setup(t, () => server.url, 2);
  recorder.start();
  await until('first segments', () => segments.length >= 2);
  await server.stop();
  await until('camera offline', () => events.some((e) => e.type === 'camera-offline'));
  const before = segments.length;
  await sleep(4000);
  await server.start();
  await until('camera online', () => events.some((e) => e.type === 'camera-online'));
  await until('segments after the outage', () => segments.length >= before + 2);
  await recorder.stop();
  const gaps = index.gaps('cam1');
  t.ok(gaps.length >= 1, 'a gap is recorded');
  t.ok(gaps.some((g) => g.seconds > 2), `gap of ${gaps.map((g) => g.seconds.toFixed(1)).join(', ')} s`);
  t.ok(events.some((e) => e.type === 'recording-gap'), 'recording-gap event');
  const offline = events.find((e) => e.type === 'camera-offline')!;
  t.notMatch(offline.message, /:\/\/[^/]*@/, 'no credentials in the message');
});
