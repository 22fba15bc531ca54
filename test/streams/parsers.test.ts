// The small parsers of streams/: ffmpeg progress, the segment list csv, segment paths, and
// credential redaction — examples plus fast-check properties (random input never throws).
import t from 'tap';
import fc from 'fast-check';
import { ProgressParser } from '../../streams/ffmpeg/progress.js';
import { parseSegmentListLine } from '../../streams/recorder/segment-list.js';
import { parseSegmentPath, segmentRelPath } from '../../streams/recorder/layout.js';
import { redactCredentials, redactCommand } from '../../streams/ffmpeg/redact.js';
import { backoffDelay } from '../../streams/ffmpeg/backoff.js';

t.test('progress: -progress blocks and stats lines', async (t) => {
  const p = new ProgressParser();
  for (const l of ['frame=118', 'fps=13.11', 'total_size=N/A', 'out_time_us=11600098', 'speed=1.29x']) t.equal(p.feed(l), null);
  t.same(p.feed('progress=continue'), { frame: 118, outTimeSeconds: 11.600098, totalSize: null, speed: 1.29 });
  t.same(p.feed('frame=  250 fps= 25 q=-1.0 size=    1024kB time=00:00:10.00 bitrate= 838.9kbits/s speed=1.0x'), {
    frame: 250,
    outTimeSeconds: 10,
    totalSize: 1024 * 1024,
    speed: 1,
  });
  t.equal(p.feed('[rtsp @ 0x55] method DESCRIBE failed: 404 Not Found'), null);
});

t.test('progress: random lines, split and merged, never throw and valid blocks still parse', async (t) => {
  fc.assert(
    fc.property(fc.array(fc.string({ maxLength: 80 }), { maxLength: 30 }), (lines) => {
      const p = new ProgressParser();
      for (const l of lines) {
        const r = p.feed(l);
        if (r) {
          if (!(r.frame >= 0 && r.outTimeSeconds >= 0)) return false;
        }
      }
      // A valid block after the garbage is still recognised.
      p.feed('frame=5');
      p.feed('out_time_us=500000');
      const r = p.feed('progress=continue');
      return r !== null && r.frame === 5 && r.outTimeSeconds === 0.5;
    }),
  );
});

t.test('segment list lines', async (t) => {
  t.same(parseSegmentListLine('1733-00001.mp4,2.900000,4.900000'), { file: '1733-00001.mp4', startSeconds: 2.9, endSeconds: 4.9 });
  t.same(parseSegmentListLine('"a,b""c.mp4",0.0,1.5'), { file: 'a,b"c.mp4', startSeconds: 0, endSeconds: 1.5 });
  t.equal(parseSegmentListLine('x.mp4,5,4'), null, 'end before start');
  t.equal(parseSegmentListLine('garbage'), null);
  fc.assert(
    fc.property(fc.string({ maxLength: 100 }), (s) => {
      const r = parseSegmentListLine(s);
      return r === null || (r.file.length > 0 && r.endSeconds >= r.startSeconds);
    }),
  );
});

t.test('segment paths: layout round trip, collisions, and rejects', async (t) => {
  const start = new Date(Date.UTC(2026, 11, 31, 23, 59, 58));
  const rel = segmentRelPath('cam1', start, 'mp4', () => false);
  t.equal(rel, 'cam1/2026-12-31/23-59-58.mp4');
  t.same(parseSegmentPath(rel), { camera: 'cam1', start, ext: 'mp4' });
  const taken = new Set([rel, 'cam1/2026-12-31/23-59-58_1.mp4']);
  t.equal(segmentRelPath('cam1', start, 'mp4', (r) => taken.has(r)), 'cam1/2026-12-31/23-59-58_2.mp4');
  t.same(parseSegmentPath('cam1/2026-12-31/23-59-58_2.mp4')?.start, start);
  t.equal(parseSegmentPath('cam1/2026-02-30/10-00-00.mp4'), null, 'no such day');
  t.equal(parseSegmentPath('cam1/.partial/123-00001.mp4'), null);
  fc.assert(
    fc.property(fc.date({ min: new Date(2000, 0, 1), max: new Date(2099, 0, 1), noInvalidDate: true }), (d) => {
      const whole = new Date(Math.floor(d.getTime() / 1000) * 1000);
      const p = parseSegmentPath(segmentRelPath('c', whole, 'ts', () => false));
      return p !== null && p.start.getTime() === whole.getTime() && p.ext === 'ts';
    }),
  );
  fc.assert(fc.property(fc.string(), (s) => (parseSegmentPath(s), true)));
});

t.test('credentials are redacted from URLs and command lines', async (t) => {
  t.equal(redactCredentials('rtsp://admin:s3cr3t@10.0.0.5:554/s1'), 'rtsp://***@10.0.0.5:554/s1');
  t.equal(redactCredentials('[rtsp @ 0x1] rtsp://u:p@h/x: 401'), '[rtsp @ 0x1] rtsp://***@h/x: 401');
  t.equal(redactCommand('ffmpeg', ['-i', 'rtsp://a:b@h/']), 'ffmpeg -i rtsp://***@h/');
  t.equal(redactCredentials('rtsp://10.0.0.5/s1'), 'rtsp://10.0.0.5/s1');
  fc.assert(
    fc.property(
      fc.stringMatching(/^[a-z0-9]{1,12}$/),
      fc.stringMatching(/^[A-Za-z0-9!$%&*+=]{1,16}$/),
      fc.string({ maxLength: 30 }),
      (user, pass, tail) => {
        const out = redactCredentials(`x rtsp://${user}:${pass}@cam.local/${tail}`);
        return !out.includes(`${user}:${pass}@`);
      },
    ),
  );
});

t.test('backoff: exponential, capped, jitter bounded', async (t) => {
  const policy = { initialMs: 1000, maxMs: 60_000, factor: 2, jitter: 0.2 };
  t.same([0, 1, 2, 3].map((a) => backoffDelay(policy, a, () => 0.5)), [1000, 2000, 4000, 8000]);
  t.equal(backoffDelay(policy, 30, () => 0.5), 60_000);
  fc.assert(
    fc.property(fc.nat(100), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (a, r) => {
      const d = backoffDelay(policy, a, () => r);
      const base = Math.min(60_000, 1000 * 2 ** a);
      return d >= Math.floor(base * 0.8) && d <= Math.min(60_000, Math.ceil(base * 1.2));
    }),
  );
});
