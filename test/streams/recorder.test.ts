// Recording with real ffmpeg against a real RTSP server (gst-rtsp-server on loopback).
import t from 'tap';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startRtspServer, rtspServerMissing } from '../helpers/rtsp-server.js';
import { needs } from '../helpers/which.js';
import { reconcile } from '../../streams/recorder/reconcile.js';
import { probeFile } from '../../streams/ffmpeg/probe.js';
import { setupRecorder as setup, until } from './fixtures/recorder-setup.js';

const skip = needs('ffmpeg') || needs('ffprobe', 'ffmpeg') || rtspServerMissing();

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

t.test('MPEG-TS format: segments valid, killed one recovered', { skip }, async (t) => {
  const server = await startRtspServer({ fps: 10, gopSeconds: 1 });
  t.teardown(() => server.stop());
  const { dir, index, segments, recorder } = setup(t, () => server.url);
  (recorder as unknown as { opts: { format: string } }).opts.format = 'ts';
  recorder.start();
  await until('2 segments', () => segments.length >= 2);
  await until('mid-segment', () => (recorder.supervisor.lastProgress?.outTimeSeconds ?? 0) % 2 > 1);
  process.kill(recorder.supervisor.pid!, 'SIGKILL');
  await until('recovered', () => segments.some((s) => s.recovered));
  await recorder.stop();
  for (const s of index.list()) {
    t.match(s.path, /\.ts$/);
    t.equal(s.status, 'ok', `${s.path}${s.recovered ? ' (recovered)' : ''} ok`);
    t.ok((await probeFile('ffprobe', join(dir, s.path))).ok);
  }
});
