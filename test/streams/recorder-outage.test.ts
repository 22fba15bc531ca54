// Recorder against a camera that goes away (server stopped) or freezes (SIGSTOP): offline and
// online events, stall watchdog, gap recorded.
import t from 'tap';
import { startRtspServer, rtspServerMissing } from '../helpers/rtsp-server.js';
import { needs } from '../helpers/which.js';
import { setupRecorder as setup, until, sleep } from './fixtures/recorder-setup.js';

const skip = needs('ffmpeg') || needs('ffprobe', 'ffmpeg') || rtspServerMissing();

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

t.test('a frozen camera (connection open, no data) trips the stall watchdog; recording resumes', { skip }, async (t) => {
  const server = await startRtspServer({ fps: 10, gopSeconds: 1 });
  t.teardown(async () => {
    const pid = server.pid();
    if (pid) process.kill(pid, 'SIGCONT');
    await server.stop();
  });
  const { segments, events, recorder } = setup(t, () => server.url);
  (recorder.supervisor as unknown as { opts: { stallMs: number } }).opts.stallMs = 3000;
  let stalls = 0;
  recorder.supervisor.on('stall', () => stalls++);
  recorder.start();
  await until('first segment', () => segments.length >= 1);
  const pid = server.pid()!;
  process.kill(pid, 'SIGSTOP');
  await until('camera offline', () => events.some((e) => e.type === 'camera-offline'));
  t.ok(stalls >= 1, 'the stall watchdog fired (before the 5 s socket timeout of ffmpeg)');
  process.kill(pid, 'SIGCONT');
  await until('camera online', () => events.some((e) => e.type === 'camera-online'));
  const n = segments.length;
  await until('segments after the freeze', () => segments.length >= n + 1);
  t.ok(recorder.restarts >= 1);
});
