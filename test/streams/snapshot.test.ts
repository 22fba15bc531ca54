// Snapshots: ONVIF snapshot URI with Digest (simulator), one frame grabbed by real ffmpeg from a
// real RTSP server that demands the credentials resolveStream injected, from a file, the size
// bound (shrinking with ffmpeg), and JPEG validation under fast-check.
import t from 'tap';
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OnvifOrFfmpegSnapshotter, SnapshotError } from '../../streams/snapshots/snapshotter.js';
import { JpegError, validJpeg } from '../../streams/snapshots/jpeg.js';
import { grabArgs } from '../../streams/snapshots/ffmpeg-frame.js';
import { startOnvifSim } from '../../streams/sim/onvif-sim.js';
import { SIM_JPEG } from '../../streams/sim/sim-jpeg.js';
import { rtspServerMissing, startRtspServer } from '../helpers/rtsp-server.js';
import { needs } from '../helpers/which.js';
import type { CameraConfig } from '../../config/cameras.js';

const PASSWORD = 'sn@p:sh/t%';
const noFfmpeg = needs('ffmpeg');

function camera(sim: { host: string; port: number }, extra: Partial<CameraConfig> = {}): CameraConfig {
  return { id: 'room7', record: 'always', onvif: { host: sim.host, port: sim.port, username: 'admin', password: PASSWORD }, ...extra };
}

t.test('JPEG validation', async (t) => {
  t.equal(validJpeg(SIM_JPEG), SIM_JPEG);
  const padded = Buffer.concat([SIM_JPEG, Buffer.from([0, 0, 0x0a])]);
  t.equal(validJpeg(padded).length, SIM_JPEG.length, 'padding after EOI trimmed');
  t.throws(() => validJpeg(SIM_JPEG.subarray(0, SIM_JPEG.length - 100)), { name: 'JpegError', message: /truncated/ });
  t.throws(() => validJpeg(Buffer.from('<html><body>401 Unauthorized</body></html>')), { name: 'JpegError', message: /not a JPEG.*html/ });
  t.throws(() => validJpeg(Buffer.alloc(0)), JpegError);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2000 }), fc.nat(), (bytes, cut) => {
      for (const b of [Buffer.from(bytes), SIM_JPEG.subarray(0, cut % SIM_JPEG.length), Buffer.concat([SIM_JPEG, Buffer.from(bytes)])]) {
        try {
          const ok = validJpeg(b);
          if (ok[0] !== 0xff || ok[1] !== 0xd8 || ok[ok.length - 2] !== 0xff || ok[ok.length - 1] !== 0xd9) throw new Error('accepted a non-JPEG');
        } catch (err) {
          if (!(err instanceof JpegError)) throw err;
        }
      }
    }),
    { numRuns: 1000 },
  );
});

t.test('frame grab arguments: argument array, TCP for RTSP only', async (t) => {
  const rtsp = grabArgs('rtsp://u:p@10.0.0.1/x', { timeoutMs: 5000 });
  t.same(rtsp.slice(rtsp.indexOf('-rtsp_transport'), rtsp.indexOf('-rtsp_transport') + 2), ['-rtsp_transport', 'tcp']);
  t.ok(rtsp.includes('-frames:v') && rtsp.includes('mjpeg') && rtsp.at(-1) === 'pipe:1');
  t.notOk(grabArgs('/tmp/file.mp4').includes('-rtsp_transport'));
});

t.test('snapshot through the ONVIF snapshot URI with Digest', async (t) => {
  const sim = await startOnvifSim({ password: PASSWORD, clockOffsetMs: 3 * 3600_000, snapshotAuth: 'digest' });
  t.teardown(() => sim.stop());
  const snap = new OnvifOrFfmpegSnapshotter({ cameras: [camera(sim)], maxBytes: 512 * 1024, ffmpegPath: '/nonexistent/ffmpeg' });
  const jpeg = await snap.grab('room7');
  t.same(jpeg, SIM_JPEG, 'the camera picture, untouched');
  t.equal(sim.stats.snapshotsServed, 1);
  await snap.grab('room7');
  t.equal(sim.stats.digestChallenges, 1, 'Digest state reused across grabs');
  t.equal(sim.stats.operations.GetSnapshotUri, 1, 'URIs resolved once and cached');
  await t.rejects(snap.grab('nope'), SnapshotError);

  // Wrong password: both ways fail, the error says why and holds no secret.
  const wrong = new OnvifOrFfmpegSnapshotter({
    cameras: [{ ...camera(sim), onvif: { host: sim.host, port: sim.port, username: 'admin', password: 'wrong' } }],
    maxBytes: 512 * 1024,
    ffmpegPath: '/nonexistent/ffmpeg',
    resolve: async () => ({ snapshotUrl: sim.snapshotUrl, streamUrl: `rtsp://admin:${encodeURIComponent('wrong')}@127.0.0.1:1/x` }),
  });
  const err2 = await wrong.grab('room7').catch((e) => e);
  t.type(err2, SnapshotError);
  t.match(err2.message, /wrong username or password/);
  t.match(err2.message, /frame grab: cannot run ffmpeg/);
  t.notMatch(err2.message, /wrong@|admin:wrong/, 'credentials redacted');
});

t.test('snapshot bounded by maxBytes: shrunk with ffmpeg, or a clear error', { skip: noFfmpeg }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tpgw-snap-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const big = spawnSync(
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=1920x1080,noise=alls=60:allf=t', '-frames:v', '1', '-q:v', '2', '-f', 'image2', '-c:v', 'mjpeg', 'pipe:1'],
    { maxBuffer: 64 * 1024 * 1024 },
  ).stdout;
  t.ok(validJpeg(big).length > 200_000, `a big camera picture (${big.length} bytes)`);
  const sim = await startOnvifSim({ password: PASSWORD, snapshotJpeg: big });
  t.teardown(() => sim.stop());

  const snap = new OnvifOrFfmpegSnapshotter({ cameras: [camera(sim)], maxBytes: 60_000 });
  const jpeg = await snap.grab('room7');
  t.ok(jpeg.length <= 60_000, `shrunk to ${jpeg.length} bytes`);
  validJpeg(jpeg);

  const tiny = new OnvifOrFfmpegSnapshotter({ cameras: [camera(sim)], maxBytes: 300 });
  await t.rejects(tiny.grab('room7'), { name: 'SnapshotError', message: /cannot be brought under 300 bytes/ });
});

t.test('frame grabbed with ffmpeg from a file when there is no snapshot URI', { skip: noFfmpeg }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tpgw-snap-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'clip.mp4');
  const made = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=640x360:rate=10', '-t', '1', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', file]);
  t.equal(made.status, 0, 'test clip made');
  const snap = new OnvifOrFfmpegSnapshotter({
    cameras: [{ id: 'file', record: 'off', rtspUrl: file }],
    maxBytes: 512 * 1024,
  });
  const jpeg = await snap.grab('file');
  t.ok(validJpeg(jpeg).length > 1000);
  const missing = new OnvifOrFfmpegSnapshotter({ cameras: [{ id: 'gone', record: 'off', rtspUrl: join(dir, 'nope.mp4') }], maxBytes: 1e6 });
  await t.rejects(missing.grab('gone'), { name: 'SnapshotError', message: /frame grab: ffmpeg could not grab a frame/ });
});

t.test('frame grabbed from a real RTSP server that wants the injected credentials', { skip: noFfmpeg || rtspServerMissing() }, async (t) => {
  const rtsp = await startRtspServer({ username: 'admin', password: PASSWORD, width: 320, height: 240 });
  t.teardown(() => rtsp.stop());
  const bare = `rtsp://127.0.0.1:${rtsp.port}/cam`;
  // The camera's snapshot endpoint is broken (HTML with 200): fall back to the stream.
  const sim = await startOnvifSim({ password: PASSWORD, rtspUrl: bare, snapshotAuth: 'none', snapshotJpeg: Buffer.from('<html>busy</html>') });
  t.teardown(() => sim.stop());

  const snap = new OnvifOrFfmpegSnapshotter({ cameras: [camera(sim)], maxBytes: 512 * 1024, timeoutMs: 20_000 });
  const jpeg = await snap.grab('room7');
  t.ok(validJpeg(jpeg).length > 1000, `frame of ${jpeg.length} bytes from RTSP`);
  const probe = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=width,height', '-of', 'csv=p=0', '-'], { input: jpeg });
  t.equal(probe.stdout.toString().trim(), '320,240', 'the stream picture, full size');

  // Wrong RTSP password: ffmpeg fails, the error names no secret.
  const wrong = new OnvifOrFfmpegSnapshotter({
    cameras: [camera(sim)],
    maxBytes: 512 * 1024,
    timeoutMs: 20_000,
    resolve: async () => ({ streamUrl: `rtsp://admin:${encodeURIComponent('Wr0ngPass')}@127.0.0.1:${rtsp.port}/cam` }),
  });
  const err = await wrong.grab('room7').catch((e) => e);
  t.type(err, SnapshotError);
  t.notMatch(err.message, /Wr0ngPass/);
});
