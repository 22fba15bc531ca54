// The pure-Node simulated RTSP camera (streams/sim/rtsp-camera.ts): recorded by real ffmpeg
// clients (TCP and default transport), probed with ffprobe, spoken to raw on the wire, stopped
// and restarted on the same port; plus property tests for its request reader and the other
// small parsers it relies on.
import t from 'tap';
import fc from 'fast-check';
import { spawn, type ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { which } from '../helpers/which.js';
import { RtspCameraSim } from '../../streams/sim/rtsp-camera.js';
import { RtspRequestReader, type RtspInput } from '../../streams/sim/rtsp-wire.js';
import { GopCache, parseRtp, startsKeyframe } from '../../streams/sim/rtsp-gop-cache.js';
import { parseAuthParams, RtspAuthenticator } from '../../streams/sim/rtsp-auth.js';
import { pickTcpTransport } from '../../streams/sim/rtsp-connection.js';
import { rewriteSdp, sdpFromFfmpegStdout } from '../../streams/sim/rtsp-sdp.js';
import { until } from '../helpers/until.js';

const ffmpeg = process.env.FFMPEG_PATH || which('ffmpeg');
const ffprobe = process.env.FFPROBE_PATH || which('ffprobe');
const skip = !ffmpeg || !ffprobe ? 'ffmpeg/ffprobe not found (apt-get install -y ffmpeg, or set FFMPEG_PATH and FFPROBE_PATH)' : false;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Parsers: property tests (no ffmpeg needed)

function feed(reader: RtspRequestReader, bytes: Buffer, cuts: number[]): RtspInput[] {
  const points = [...new Set(cuts.map((c) => (bytes.length ? c % (bytes.length + 1) : 0)))].sort((a, b) => a - b);
  const out: RtspInput[] = [];
  let prev = 0;
  for (const p of [...points, bytes.length]) {
    if (p < prev) continue;
    out.push(...reader.push(bytes.subarray(prev, p)));
    prev = p;
  }
  return out;
}

const requestArb = fc
  .record({
    method: fc.constantFrom('OPTIONS', 'DESCRIBE', 'SETUP', 'PLAY', 'GET_PARAMETER', 'SET_PARAMETER'),
    cseq: fc.integer({ min: 0, max: 1_000_000 }),
    body: fc.option(fc.uint8Array({ minLength: 1, maxLength: 200 }), { nil: undefined }),
    lf: fc.boolean(),
  })
  .map(({ method, cseq, body, lf }) => {
    const nl = lf ? '\n' : '\r\n';
    let head = `${method} rtsp://127.0.0.1:554/stream RTSP/1.0${nl}CSeq: ${cseq}${nl}User-Agent: prop${nl}`;
    if (body) head += `Content-Length: ${body.length}${nl}`;
    return { bytes: Buffer.concat([Buffer.from(head + nl, 'latin1'), Buffer.from(body ?? [])]), method, cseq, body };
  });

const frameArb = fc
  .record({ channel: fc.integer({ min: 0, max: 255 }), data: fc.uint8Array({ maxLength: 300 }) })
  .map(({ channel, data }) => {
    const head = Buffer.from([0x24, channel, 0, 0]);
    head.writeUInt16BE(data.length, 2);
    return { bytes: Buffer.concat([head, Buffer.from(data)]), channel, data };
  });

/** Bytes that cannot end a header block or start a frame: a bad request line to resync from. */
const garbageLineArb = fc
  .uint8Array({ minLength: 1, maxLength: 2000 })
  .map((a) => Buffer.from(a.filter((b) => b !== 0x0a && b !== 0x0d)))
  .filter((b) => b.length > 0 && b[0] !== 0x24);

t.test('request reader: properties', async (t) => {
  t.test('random bytes in random chunks never throw and never hang', async (t) => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 20_000 }), fc.array(fc.nat(), { maxLength: 20 }), (bytes, cuts) => {
        const reader = new RtspRequestReader();
        const out = feed(reader, Buffer.from(bytes), cuts);
        return out.every((item) => item.kind !== 'malformed' || item.reason.length > 0);
      }),
      { numRuns: 300 },
    );
    t.pass('no exception escaped');
  });

  t.test('any mix of requests, frames, fragments and garbage parses the same however it is split', async (t) => {
    const pieceArb = fc.oneof(
      requestArb.map((r) => r.bytes),
      frameArb.map((f) => f.bytes),
      fc.uint8Array({ maxLength: 400 }).map((a) => Buffer.from(a)),
      fc.constantFrom('\r\n\r\n', '\n\n', '$', 'Content-Length: 7\r\n', 'Content-Length: 99999\r\n', 'CSeq: 1\r\n', 'PLAY rtsp://h/s RTSP/1.0\r\n').map((s) => Buffer.from(s)),
    );
    fc.assert(
      fc.property(fc.array(pieceArb, { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 30 }), (pieces, cuts) => {
        const bytes = Buffer.concat(pieces);
        const limits = { maxHeaderBytes: 256, maxBodyBytes: 1024 };
        const whole = new RtspRequestReader(limits);
        const split = new RtspRequestReader(limits);
        const a = whole.push(bytes);
        const b = feed(split, bytes, cuts);
        return JSON.stringify(a) === JSON.stringify(b) && whole.broken === split.broken;
      }),
      { numRuns: 500 },
    );
    t.pass('chunking never changes what is parsed');
  });

  t.test('a valid stream parses the same however it is split', async (t) => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(requestArb, frameArb), { minLength: 1, maxLength: 15 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (items, cuts) => {
          const bytes = Buffer.concat(items.map((i) => i.bytes));
          const whole = new RtspRequestReader().push(bytes);
          const split = feed(new RtspRequestReader(), bytes, cuts);
          if (JSON.stringify(whole) !== JSON.stringify(split)) return false;
          if (whole.length !== items.length) return false;
          return items.every((item, i) => {
            const got = whole[i];
            if ('method' in item) {
              return (
                got.kind === 'request' &&
                got.method === item.method &&
                got.headers.get('cseq') === String(item.cseq) &&
                got.body.equals(Buffer.from(item.body ?? []))
              );
            }
            return got.kind === 'interleaved' && got.channel === item.channel && got.data.equals(Buffer.from(item.data));
          });
        },
      ),
      { numRuns: 300 },
    );
    t.pass('chunking does not change the result');
  });

  t.test('after garbage, the next valid request is still found', async (t) => {
    fc.assert(
      fc.property(garbageLineArb, requestArb, fc.array(fc.nat(), { maxLength: 10 }), (garbage, req, cuts) => {
        const bytes = Buffer.concat([garbage, Buffer.from('\r\n\r\n'), req.bytes]);
        const out = feed(new RtspRequestReader(), bytes, cuts);
        return (
          out.length === 2 &&
          out[0].kind === 'malformed' &&
          out[1].kind === 'request' &&
          out[1].headers.get('cseq') === String(req.cseq)
        );
      }),
      { numRuns: 300 },
    );
    t.pass('resynchronised at the blank line');
  });

  t.test('a rejected request with a body does not leak its body as a request', async (t) => {
    const reader = new RtspRequestReader();
    const body = 'OPTIONS rtsp://x/ RTSP/1.0\r\nCSeq: 9\r\n\r\n'; // looks like a request, is a body
    const out = reader.push(
      Buffer.from(`BAD LINE\r\nContent-Length: ${body.length}\r\n\r\n${body}OPTIONS rtsp://h/s RTSP/1.0\r\nCSeq: 3\r\n\r\n`),
    );
    t.same(
      out.map((o) => o.kind),
      ['malformed', 'request'],
    );
    t.equal(out[1].kind === 'request' && out[1].headers.get('cseq'), '3');
  });

  t.test('an endless header block breaks the reader instead of growing', async (t) => {
    const reader = new RtspRequestReader({ maxHeaderBytes: 1024 });
    const out = feed(reader, Buffer.alloc(5000, 0x41), [100, 900, 1027, 1028, 3000]);
    t.same(
      out.map((o) => o.kind),
      ['malformed'],
    );
    t.ok(reader.broken);
    t.same(reader.push(Buffer.from('OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n')), []);
  });

  t.test('missing or bad CSeq, bad version and bad header lines are malformed, with CSeq when readable', async (t) => {
    const one = (s: string) => new RtspRequestReader().push(Buffer.from(s))[0];
    t.match(one('OPTIONS * RTSP/1.0\r\n\r\n'), { kind: 'malformed', reason: 'missing CSeq' });
    t.match(one('OPTIONS * RTSP/1.0\r\nCSeq: x\r\n\r\n'), { kind: 'malformed', reason: 'bad CSeq' });
    t.match(one('OPTIONS * HTTP/1.1\r\nCSeq: 4\r\n\r\n'), { kind: 'malformed', cseq: '4' });
    t.match(one('OPTIONS * RTSP/1.0\r\nCSeq: 5\r\nno colon here\r\n\r\n'), { kind: 'malformed', cseq: '5' });
    t.match(one('OPTIONS * RTSP/1.0\r\nCSeq: 6\r\nContent-Length: -1\r\n\r\n'), { kind: 'malformed', cseq: '6' });
  });
});

t.test('RTP, transport, auth and SDP parsers: properties', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 1500 }), (bytes) => {
      const b = Buffer.from(bytes);
      const rtp = parseRtp(b);
      if (rtp) {
        startsKeyframe('h264', rtp.payload);
        startsKeyframe('mpeg4', rtp.payload);
      }
      startsKeyframe('h264', b);
      startsKeyframe('mpeg4', b);
      new GopCache('h264', 4096).push(b);
    }),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), (s) => {
      pickTcpTransport(s);
      parseAuthParams(s);
      sdpFromFfmpegStdout(s);
      new RtspAuthenticator('u', 'p', 'digest').check('DESCRIBE', s);
      new RtspAuthenticator('u', 'p', 'basic').check('DESCRIBE', s);
    }),
    { numRuns: 500 },
  );
  t.pass('no exception escaped');

  t.equal(pickTcpTransport('RTP/AVP;unicast;client_port=5000-5001'), null, 'UDP only: none');
  t.equal(pickTcpTransport('RTP/AVP;unicast;client_port=5000-5001,RTP/AVP/TCP;unicast;interleaved=2-3'), 2);
  t.equal(pickTcpTransport('RTP/AVP/TCP;unicast'), 0, 'no channel asked: 0-1');

  // A keyframe split over several packets with one timestamp starts exactly one group.
  const pkt = (seq: number, ts: number, payload: number[]) => {
    const b = Buffer.alloc(12 + payload.length);
    b[0] = 0x80;
    b[1] = 96;
    b.writeUInt16BE(seq, 2);
    b.writeUInt32BE(ts, 4);
    Buffer.from(payload).copy(b, 12);
    return b;
  };
  const gop = new GopCache('h264');
  t.equal(gop.push(pkt(1, 0, [0x41, 0])), false, 'P slice before any keyframe: not cached');
  t.equal(gop.packets().length, 0);
  t.equal(gop.push(pkt(2, 100, [0x67, 0x42])), true, 'SPS starts the group');
  t.equal(gop.push(pkt(3, 100, [0x68, 0xce])), false, 'PPS of the same picture');
  t.equal(gop.push(pkt(4, 100, [0x7c, 0x85, 1])), false, 'FU-A start of the IDR, same timestamp');
  t.equal(gop.push(pkt(5, 200, [0x41, 1])), false);
  t.equal(gop.packets().length, 4);
  t.equal(gop.push(pkt(6, 300, [0x7c, 0x85, 1])), true, 'next IDR (no SPS) starts a new group');
  t.equal(gop.packets().length, 1);

  const sdp = sdpFromFfmpegStdout(
    'SDP:\nv=0\no=- 0 0 IN IP4 127.0.0.1\ns=No Name\nc=IN IP4 127.0.0.1\nt=0 0\nm=video 4000 RTP/AVP 96\na=rtpmap:96 H264/90000\na=fmtp:96 packetization-mode=1; sprop-parameter-sets=Z0I=,aM4=\n\n',
  );
  t.ok(sdp);
  const served = rewriteSdp(sdp!, '42');
  t.equal(served.codec, 'h264');
  t.match(served.sdp, /m=video 0 RTP\/AVP 96\r\n/);
  t.match(served.sdp, /sprop-parameter-sets=Z0I=,aM4=/);
  t.match(served.sdp, /a=control:trackID=0\r\n$/);
  t.notMatch(served.sdp, /127\.0\.0\.1|4000/);
});

// ---------------------------------------------------------------------------------------------
// Real ffmpeg against the simulator

interface Probe {
  codec: string;
  width: number;
  height: number;
  duration: number;
}

function probe(file: string): Promise<Probe> {
  return new Promise((resolve, reject) => {
    execFile(
      ffprobe!,
      ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,width,height:format=duration', '-of', 'json', file],
      { timeout: 30_000 },
      (err, stdout) => {
        if (err) return reject(err);
        const j = JSON.parse(stdout) as { streams: Array<{ codec_name: string; width: number; height: number }>; format: { duration: string } };
        const s = j.streams[0];
        if (!s) return reject(new Error(`no video stream in ${file}`));
        resolve({ codec: s.codec_name, width: s.width, height: s.height, duration: Number(j.format.duration) });
      },
    );
  });
}

interface Client {
  child: ChildProcess;
  done: Promise<{ code: number | null; stderr: string }>;
}

const children = new Set<ChildProcess>();
t.teardown(() => {
  for (const c of children) c.kill('SIGKILL');
});

/** ffmpeg as an RTSP client: `ffmpeg [input opts] -i url [output opts] -c copy out`. */
function record(url: string, out: string, inputOpts: string[], outputOpts: string[]): Client {
  const child = spawn(
    ffmpeg!,
    ['-hide_banner', '-nostdin', '-y', '-loglevel', 'warning', ...inputOpts, '-i', url, ...outputOpts, '-c', 'copy', out],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  children.add(child);
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => (stderr = (stderr + s).slice(-8192)));
  const done = new Promise<{ code: number | null; stderr: string }>((resolve) => {
    child.on('close', (code) => {
      children.delete(child);
      resolve({ code, stderr });
    });
  });
  return { child, done };
}

/** A raw RTSP client: requests and responses, and the interleaved frames that follow PLAY. */
class RawClient {
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  readonly frames: Array<{ channel: number; data: Buffer }> = [];
  readonly responses: Array<{ status: number; headers: Map<string, string>; body: string }> = [];
  closed = false;
  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.parse();
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  static open(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private parse(): void {
    for (;;) {
      if (this.buf.length >= 4 && this.buf[0] === 0x24) {
        const len = this.buf.readUInt16BE(2);
        if (this.buf.length < 4 + len) return;
        this.frames.push({ channel: this.buf[1], data: Buffer.from(this.buf.subarray(4, 4 + len)) });
        this.buf = this.buf.subarray(4 + len);
        continue;
      }
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const lines = this.buf.subarray(0, end).toString('latin1').split('\r\n');
      const headers = new Map<string, string>();
      for (const l of lines.slice(1)) headers.set(l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim());
      const length = Number(headers.get('content-length') ?? 0);
      if (this.buf.length < end + 4 + length) return;
      const body = this.buf.subarray(end + 4, end + 4 + length).toString('utf8');
      this.buf = this.buf.subarray(end + 4 + length);
      this.responses.push({ status: Number(lines[0].split(' ')[1]), headers, body });
    }
  }

  async until(what: string, cond: () => boolean): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (!cond()) {
      if (this.closed) throw new Error(`connection closed while waiting for ${what}`);
      if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
      await new Promise<void>((r) => {
        const timer = setTimeout(r, 200);
        this.waiters.push(() => {
          clearTimeout(timer);
          r();
        });
      });
    }
  }

  /** Sends raw bytes and waits for the next response. */
  async send(raw: string): Promise<{ status: number; headers: Map<string, string>; body: string }> {
    const n = this.responses.length;
    this.socket.write(raw);
    await this.until('a response', () => this.responses.length > n);
    return this.responses[n];
  }

  request(method: string, uri: string, cseq: number, headers: Record<string, string> = {}) {
    let raw = `${method} ${uri} RTSP/1.0\r\nCSeq: ${cseq}\r\n`;
    for (const [k, v] of Object.entries(headers)) raw += `${k}: ${v}\r\n`;
    return this.send(raw + '\r\n');
  }

  close(): void {
    this.socket.destroy();
  }
}

function tempDir(t: { teardown(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'tpgw-rtsp-sim-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

t.test('simulated camera with real ffmpeg clients', { skip }, async (t) => {
  const dir = tempDir(t);
  const sim = new RtspCameraSim({ ffmpegPath: ffmpeg!, width: 320, height: 240, fps: 10 });
  t.teardown(() => sim.stop());
  const { url } = await sim.start();
  t.match(url, /^rtsp:\/\/127\.0\.0\.1:\d+\/stream$/);
  t.equal(sim.videoCodec, 'h264', "this ffmpeg has libx264, so the camera serves H.264");

  await t.test('malformed requests get 400 and the server keeps working', async (t) => {
    const c = await RawClient.open(portOf(url));
    t.teardown(() => c.close());
    t.equal((await c.send('HELLO THERE\r\n\r\n')).status, 400, 'not a request line');
    const noCseq = await c.send(`DESCRIBE ${url} RTSP/1.0\r\n\r\n`);
    t.equal(noCseq.status, 400, 'no CSeq');
    const bad = await c.send(`DESCRIBE ${url} RTSP/1.0\r\nCSeq: 7\r\nthis is not a header\r\n\r\n`);
    t.equal(bad.status, 400);
    t.equal(bad.headers.get('cseq'), '7', 'the 400 echoes a readable CSeq');
    const ok = await c.request('OPTIONS', url, 8);
    t.equal(ok.status, 200, 'same connection still served');
    t.equal(ok.headers.get('cseq'), '8');
    t.match(ok.headers.get('public'), /DESCRIBE.*SETUP.*PLAY.*TEARDOWN.*GET_PARAMETER/);

    const flood = await RawClient.open(portOf(url));
    t.teardown(() => flood.close());
    flood.socket.write(Buffer.alloc(20_000, 0x41));
    await flood.until('the connection to close', () => flood.closed || flood.responses.length > 0).catch(() => {});
    t.equal(flood.responses[0]?.status, 400, 'an endless header block: 400');
    await flood.until('close', () => flood.closed).catch(() => {});
    t.ok(flood.closed, 'and the connection is closed');

    t.equal((await c.request('DESCRIBE', url, 9)).status, 200, 'other connections unaffected');
  });

  await t.test('the protocol on the wire', async (t) => {
    const c = await RawClient.open(portOf(url));
    t.teardown(() => c.close());
    t.equal((await c.request('DESCRIBE', url.replace('/stream', '/nope'), 1)).status, 404, 'unknown path');
    t.equal((await c.request('FROBNICATE', url, 2)).status, 501, 'unknown method');
    const d = await c.request('DESCRIBE', url, 3, { Accept: 'application/sdp' });
    t.equal(d.status, 200);
    t.equal(d.headers.get('content-type'), 'application/sdp');
    t.equal(d.headers.get('content-base'), `${url}/`);
    t.match(d.body, /a=rtpmap:96 H264\/90000/);
    t.match(d.body, /sprop-parameter-sets=[A-Za-z0-9+/=]+,[A-Za-z0-9+/=]+/, 'parameter sets in the SDP');
    t.match(d.body, /a=control:trackID=0/);
    t.equal((await c.request('PLAY', url, 4)).status, 455, 'PLAY before SETUP');
    const udp = await c.request('SETUP', `${url}/trackID=0`, 5, { Transport: 'RTP/AVP;unicast;client_port=5000-5001' });
    t.equal(udp.status, 461, 'UDP transport refused');
    const setup = await c.request('SETUP', `${url}/trackID=0`, 6, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' });
    t.equal(setup.status, 200);
    t.equal(setup.headers.get('transport'), 'RTP/AVP/TCP;unicast;interleaved=0-1');
    const session = setup.headers.get('session')!.split(';')[0];
    t.ok(session, 'a session id');
    t.equal((await c.request('PLAY', url, 7, { Session: 'wrong' })).status, 454, 'unknown session');
    const play = await c.request('PLAY', url, 8, { Session: session });
    t.equal(play.status, 200);
    t.match(play.headers.get('rtp-info'), /seq=\d+;rtptime=\d+/);
    await c.until('RTP packets', () => c.frames.filter((f) => f.channel === 0).length >= 20);
    const first = parseRtp(c.frames.find((f) => f.channel === 0)!.data);
    t.ok(first && startsKeyframe('h264', first.payload), 'the first packet a joining client gets starts a keyframe');
    t.equal(sim.clients, 1, 'one client playing');
    t.equal((await c.request('GET_PARAMETER', url, 9, { Session: session })).status, 200, 'keep-alive');
    t.equal((await c.request('TEARDOWN', url, 10, { Session: session })).status, 200);
    await until('client count to drop', () => sim.clients === 0);
    t.equal(sim.clients, 0);
  });

  await t.test('two simultaneous ffmpeg clients: TCP and default transport', async (t) => {
    const tcpOut = join(dir, 'tcp.mp4');
    const defOut = join(dir, 'default.mp4');
    const a = record(url, tcpOut, ['-rtsp_transport', 'tcp'], ['-t', '3']);
    const b = record(url, defOut, [], ['-t', '3']);
    let most = 0;
    let bothDone = false;
    const watching = (async () => {
      while (!bothDone) {
        most = Math.max(most, sim.clients);
        await sleep(50);
      }
    })();
    const [ra, rb] = await Promise.all([a.done, b.done]);
    bothDone = true;
    await watching;
    t.equal(ra.code, 0, 'TCP client succeeded', { stderr: ra.stderr });
    t.equal(rb.code, 0, 'default-transport client succeeded', { stderr: rb.stderr });
    t.match(rb.stderr, /461/, 'the default client tried UDP first and fell back to TCP');
    t.equal(most, 2, 'both played at the same time');
    for (const file of [tcpOut, defOut]) {
      const p = await probe(file);
      t.equal(p.codec, 'h264', `${file}: H.264`);
      t.equal(p.width, 320);
      t.equal(p.height, 240);
      t.ok(p.duration >= 2, `${file}: duration ${p.duration} s ≥ 2 s`);
    }
  });

  await t.test('stop: clients see the camera gone, ffmpeg ends; restart on the same port', async (t) => {
    const out = join(dir, 'cut.mp4');
    const client = record(url, out, ['-rtsp_transport', 'tcp'], ['-t', '120']);
    await until('the client to play', () => sim.clients === 1);
    await until('some media to reach the client', () => existsSync(out));
    await sleep(1500);
    const encoder = sim.encoderPid;
    t.ok(encoder, 'an encoder runs');
    await sim.stop();
    t.equal(sim.url, null);
    t.throws(() => process.kill(encoder!, 0), { code: 'ESRCH' }, 'stop() ended the encoding ffmpeg');
    const r = await client.done; // a hang here (not seeing the server gone) fails on the test timeout
    t.ok(r.code !== null, `the client exited once the camera went away (code ${r.code})`);
    const refused = await new Promise<string>((resolve) => {
      const s = connect(portOf(url), '127.0.0.1');
      s.on('connect', () => {
        s.destroy();
        resolve('connected');
      });
      s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    });
    t.equal(refused, 'ECONNREFUSED', 'nothing listens while stopped');

    const again = await sim.start();
    t.equal(again.url, url, 'same URL, same port');
    const out2 = join(dir, 'again.mp4');
    const r2 = await record(again.url, out2, ['-rtsp_transport', 'tcp'], ['-frames:v', '15']).done;
    t.equal(r2.code, 0, 'recorded after the restart', { stderr: r2.stderr });
    const p = await probe(out2);
    t.equal(p.codec, 'h264');
    t.equal(p.width, 320);
  });

  await t.test('stop() twice and start() twice are harmless', async (t) => {
    const [a, b] = await Promise.all([sim.start(), sim.start()]);
    t.equal(a.url, b.url);
    await Promise.all([sim.stop(), sim.stop()]);
    t.equal(sim.encoderPid, null);
    t.equal(sim.connectionCount, 0);
  });
});

/** DESCRIBE, SETUP over TCP, PLAY; returns the PLAY response. */
async function play(c: RawClient, url: string) {
  await c.request('DESCRIBE', url, 1);
  const setup = await c.request('SETUP', `${url}/trackID=0`, 2, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' });
  if (setup.status !== 200) return setup;
  return c.request('PLAY', url, 3, { Session: setup.headers.get('session')!.split(';')[0] });
}

const rtpOf = (c: RawClient) => c.frames.filter((f) => f.channel === 0).map((f) => parseRtp(f.data)!);

t.test('a client joining mid-GOP starts at the cached keyframe', { skip }, async (t) => {
  // A 20 s GOP: without the cache, a late joiner would start at a later keyframe (or wait).
  const sim = new RtspCameraSim({ ffmpegPath: ffmpeg!, width: 160, height: 120, fps: 10, gopFrames: 200 });
  t.teardown(() => sim.stop());
  const { url } = await sim.start();
  const early = await RawClient.open(portOf(url));
  t.teardown(() => early.close());
  await play(early, url);
  await early.until('one second of media', () => {
    const ts = rtpOf(early).map((p) => p.timestamp);
    return ts.length > 0 && ts[ts.length - 1] - ts[0] >= 90_000;
  });
  const late = await RawClient.open(portOf(url));
  t.teardown(() => late.close());
  const response = await play(late, url);
  const earlyNow = rtpOf(early).at(-1)!.timestamp; // the live position when the late client joined
  await late.until('packets', () => rtpOf(late).length > 0);
  const first = rtpOf(late)[0];
  t.ok(startsKeyframe('h264', first.payload), 'the late client first gets a keyframe');
  t.equal(first.timestamp, rtpOf(early)[0].timestamp, 'the same keyframe the early client started with');
  t.ok(first.timestamp < earlyNow, 'from before it joined: the cached group');
  t.match(response.headers.get('rtp-info'), new RegExp(`seq=${first.sequence};rtptime=${first.timestamp}$`), 'RTP-Info names it');
  t.equal(sim.clients, 2);

  // The encoder dying is a camera reboot: clients are dropped, the camera comes back by itself.
  const dead = sim.encoderPid!;
  process.kill(dead, 'SIGKILL');
  await until('clients to be dropped', () => early.closed && late.closed);
  t.equal(sim.clients, 0, 'clients dropped with the encoder');
  await until('a new encoder', () => sim.encoderPid !== null && sim.encoderPid !== dead);
  const after = await RawClient.open(portOf(url));
  t.teardown(() => after.close());
  let resp = await play(after, url);
  for (let i = 0; i < 100 && resp.status === 503; i++) {
    await sleep(100); // encoder still starting: DESCRIBE/SETUP answer 503 meanwhile
    resp = await play(after, url);
  }
  t.equal(resp.status, 200, 'the camera serves again after its encoder restarted');
  await after.until('packets after the restart', () => rtpOf(after).length > 0);
  t.ok(startsKeyframe('h264', rtpOf(after)[0].payload));
});

t.test('authentication', { skip }, async (t) => {
  const dir = tempDir(t);
  for (const authScheme of ['digest', 'basic'] as const) {
    await t.test(authScheme, async (t) => {
      const sim = new RtspCameraSim({
        ffmpegPath: ffmpeg!,
        width: 160,
        height: 120,
        fps: 10,
        username: 'admin',
        password: 's3cret:pw',
        authScheme,
      });
      t.teardown(() => sim.stop());
      const { url } = await sim.start();
      t.notMatch(url, /admin|s3cret/, 'the URL carries no credentials');
      const c = await RawClient.open(portOf(url));
      t.teardown(() => c.close());
      t.equal((await c.request('OPTIONS', url, 1)).status, 200, 'OPTIONS needs no credentials');
      const denied = await c.request('DESCRIBE', url, 2);
      t.equal(denied.status, 401);
      t.match(denied.headers.get('www-authenticate'), authScheme === 'digest' ? /^Digest realm="[^"]+", nonce="[0-9a-f]+"/ : /^Basic realm=/);

      const withCreds = url.replace('rtsp://', `rtsp://admin:${encodeURIComponent('s3cret:pw')}@`);
      const out = join(dir, `${authScheme}.mp4`);
      const ok = await record(withCreds, out, ['-rtsp_transport', 'tcp'], ['-frames:v', '10']).done;
      t.equal(ok.code, 0, 'right credentials: recorded', { stderr: ok.stderr });
      t.equal((await probe(out)).codec, 'h264');
      const wrong = await record(url.replace('rtsp://', 'rtsp://admin:nope@'), join(dir, 'x.mp4'), ['-rtsp_transport', 'tcp'], ['-frames:v', '10']).done;
      t.not(wrong.code, 0, 'wrong password: refused');
      t.match(wrong.stderr, /401|Unauthorized/);
    });
  }
});

t.test('MPEG-4 part 2 fallback (for an ffmpeg without libx264)', { skip }, async (t) => {
  const dir = tempDir(t);
  const sim = new RtspCameraSim({ ffmpegPath: ffmpeg!, width: 320, height: 240, fps: 10, codec: 'mpeg4', gopFrames: 40 });
  t.teardown(() => sim.stop());
  const { url } = await sim.start();
  t.equal(sim.videoCodec, 'mpeg4');
  const c = await RawClient.open(portOf(url));
  t.teardown(() => c.close());
  const d = await c.request('DESCRIBE', url, 1);
  t.match(d.body, /a=rtpmap:96 MP4V-ES\/90000/);
  t.match(d.body, /config=[0-9A-Fa-f]+/, 'the decoder config travels in the SDP');
  const out = join(dir, 'mpeg4.mp4');
  const r = await record(url, out, ['-rtsp_transport', 'tcp'], ['-t', '2']).done;
  t.equal(r.code, 0, 'recorded', { stderr: r.stderr });
  const p = await probe(out);
  t.equal(p.codec, 'mpeg4');
  t.equal(p.width, 320);
  t.equal(p.height, 240);
  t.ok(p.duration >= 1, `duration ${p.duration} s`);
});

function bundledFfmpeg(): string | null {
  try {
    const path = (createRequire(import.meta.url)('@ffmpeg-installer/ffmpeg') as { path: string }).path;
    return existsSync(path) ? path : null;
  } catch {
    return null; // optional dependency not installed
  }
}
const bundled = bundledFfmpeg();

t.test('encoder from the bundled @ffmpeg-installer/ffmpeg', {
  skip: skip || (!bundled && 'optional dependency @ffmpeg-installer/ffmpeg not installed (npm install @ffmpeg-installer/ffmpeg)'),
}, async (t) => {
  if (!bundled) return;
  const dir = tempDir(t);
  const sim = new RtspCameraSim({ ffmpegPath: bundled, width: 320, height: 240, fps: 10 });
  t.teardown(() => sim.stop());
  const { url } = await sim.start();
  const out = join(dir, 'bundled.mp4');
  const r = await record(url, out, ['-rtsp_transport', 'tcp'], ['-frames:v', '15']).done;
  t.equal(r.code, 0, 'recorded', { stderr: r.stderr });
  const p = await probe(out);
  t.equal(p.codec, sim.videoCodec === 'h264' ? 'h264' : 'mpeg4');
  t.equal(p.width, 320);
});

t.test('bad options are refused up front', async (t) => {
  t.throws(() => new RtspCameraSim({ ffmpegPath: 'ffmpeg', width: 321 }));
  t.throws(() => new RtspCameraSim({ ffmpegPath: 'ffmpeg', path: 'no-slash' }));
  t.throws(() => new RtspCameraSim({ ffmpegPath: 'ffmpeg', username: 'u' }), 'username without password');
  t.throws(() => new RtspCameraSim({ ffmpegPath: '' }));
});

t.test('start() fails cleanly when ffmpeg cannot run', async (t) => {
  const sim = new RtspCameraSim({ ffmpegPath: '/nonexistent/ffmpeg', codec: 'h264', startTimeoutMs: 5000 });
  await t.rejects(sim.start(), /cannot run|ENOENT/);
  t.equal(sim.url, null);
  await sim.stop();
});
