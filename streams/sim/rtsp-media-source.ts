// The simulated camera's encoder: ffmpeg renders lavfi testsrc2 in real time, encodes it
// (libx264 when this ffmpeg has it, else MPEG-4 part 2) and sends RTP to two UDP sockets we bind
// on loopback (RTP and RTCP). The SDP it prints on stdout describes the stream. Parameter sets
// travel both in the SDP (global header) and in-band before every keyframe (dump_extra), as
// real cameras do, so any client can start at any keyframe.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket, type RemoteInfo } from 'node:dgram';
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { silentLogger, type StreamsLogger } from '../logger.js';
import { sdpFromFfmpegStdout, type SimCodec } from './rtsp-sdp.js';

export interface MediaSourceOptions {
  ffmpegPath: string;
  width: number;
  height: number;
  fps: number;
  gopFrames: number;
  /** ffmpeg -b:v value, e.g. "600k". */
  bitrate: string;
  codec: SimCodec | 'auto';
  startTimeoutMs: number;
  stopGraceMs: number;
  log?: StreamsLogger;
}

export interface MediaSourceEvents {
  rtp: [packet: Buffer];
  rtcp: [packet: Buffer];
  /** ffmpeg ended without stop() being asked. */
  exit: [reason: string];
}

const encoderCache = new Map<string, Promise<SimCodec>>();

/** libx264 when the binary has it (Debian's and @ffmpeg-installer's builds do), else mpeg4. */
export function detectEncoder(ffmpegPath: string): Promise<SimCodec> {
  let p = encoderCache.get(ffmpegPath);
  if (!p) {
    p = new Promise<SimCodec>((resolve, reject) => {
      execFile(ffmpegPath, ['-hide_banner', '-encoders'], { timeout: 15_000, maxBuffer: 4 * 1024 * 1024 }, (err, stdout) => {
        if (err) return reject(new Error(`cannot list encoders of ${ffmpegPath}: ${err.message}`));
        resolve(/^\s*V\S*\s+libx264\s/m.test(stdout) ? 'h264' : 'mpeg4');
      });
    });
    p.catch(() => encoderCache.delete(ffmpegPath));
    encoderCache.set(ffmpegPath, p);
  }
  return p;
}

function bindUdp(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = createSocket('udp4');
    sock.once('error', reject);
    sock.bind(0, '127.0.0.1', () => {
      sock.off('error', reject);
      resolve(sock);
    });
  });
}

function closeUdp(sock: Socket | null): Promise<void> {
  if (!sock) return Promise.resolve();
  return new Promise((resolve) => {
    try {
      sock.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}

const STDOUT_LIMIT = 64 * 1024;
const STDERR_TAIL = 4 * 1024;

export class RtspMediaSource extends EventEmitter<MediaSourceEvents> {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private rtpSock: Socket | null = null;
  private rtcpSock: Socket | null = null;
  private stopping = false;
  private stderrTail = '';
  private readonly log: StreamsLogger;
  /** ffmpeg's SDP for this run. */
  sdp = '';
  codec: SimCodec = 'h264';

  constructor(private readonly opts: MediaSourceOptions) {
    super();
    this.log = opts.log ?? silentLogger;
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /** Resolves once ffmpeg printed its SDP and the first RTP packet arrived. */
  async start(): Promise<void> {
    this.stopping = false;
    this.codec = this.opts.codec === 'auto' ? await detectEncoder(this.opts.ffmpegPath) : this.opts.codec;
    try {
      this.rtpSock = await bindUdp();
      this.rtcpSock = await bindUdp();
      await this.spawnAndWait();
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  private args(rtpPort: number, rtcpPort: number): string[] {
    const o = this.opts;
    const encoder =
      this.codec === 'h264'
        ? ['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p']
        : ['-c:v', 'mpeg4'];
    return [
      '-hide_banner',
      '-nostats',
      '-loglevel',
      'error',
      '-re',
      '-f',
      'lavfi',
      '-i',
      `testsrc2=size=${o.width}x${o.height}:rate=${o.fps}`,
      '-an',
      ...encoder,
      // A fixed GOP: keyframes exactly every gopFrames, none at scene cuts.
      '-g',
      String(o.gopFrames),
      '-keyint_min',
      String(o.gopFrames),
      '-sc_threshold',
      '0',
      '-b:v',
      o.bitrate,
      '-flags:v',
      '+global_header',
      '-bsf:v',
      'dump_extra=freq=keyframe',
      '-f',
      'rtp',
      `rtp://127.0.0.1:${rtpPort}?rtcpport=${rtcpPort}&pkt_size=1200`,
    ];
  }

  private spawnAndWait(): Promise<void> {
    const rtpSock = this.rtpSock!;
    const rtcpSock = this.rtcpSock!;
    const rtpPort = (rtpSock.address() as AddressInfo).port;
    const rtcpPort = (rtcpSock.address() as AddressInfo).port;
    const child = spawn(this.opts.ffmpegPath, this.args(rtpPort, rtcpPort), { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    this.stderrTail = '';
    // A binary that cannot be spawned emits 'error' and may never emit 'close'.
    this.exited = new Promise((resolve) => {
      child.once('close', () => resolve());
      child.once('error', () => resolve());
    });
    child.stdin!.on('error', () => {}); // EPIPE when ffmpeg is already gone
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => {
      this.stderrTail = (this.stderrTail + s).slice(-STDERR_TAIL);
    });

    return new Promise<void>((resolve, reject) => {
      let stdout = '';
      let sdpSeen = false;
      let packetSeen = false;
      let settled = false;
      // The first datagram fixes the sender: anything else on loopback aiming at our port is ignored.
      let source: string | null = null;
      const fromFfmpeg = (rinfo: RemoteInfo, rtcp: boolean): boolean => {
        if (rtcp) return rinfo.address === '127.0.0.1';
        const key = `${rinfo.address}:${rinfo.port}`;
        source ??= key;
        return source === key;
      };
      const timer = setTimeout(
        () => finish(new Error(`ffmpeg sent no ${sdpSeen ? 'RTP' : 'SDP'} within ${this.opts.startTimeoutMs} ms${this.stderrSuffix()}`)),
        this.opts.startTimeoutMs,
      );
      const finish = (err?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      const maybeReady = () => {
        if (sdpSeen && packetSeen) finish();
      };
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', (s: string) => {
        if (sdpSeen || stdout.length > STDOUT_LIMIT) return;
        stdout += s;
        const sdp = sdpFromFfmpegStdout(stdout);
        if (sdp) {
          this.sdp = sdp;
          sdpSeen = true;
          maybeReady();
        }
      });
      rtpSock.on('message', (msg, rinfo) => {
        if (!fromFfmpeg(rinfo, false)) return;
        if (!packetSeen) {
          packetSeen = true;
          maybeReady();
        }
        this.emit('rtp', msg);
      });
      rtcpSock.on('message', (msg, rinfo) => {
        if (fromFfmpeg(rinfo, true)) this.emit('rtcp', msg);
      });
      rtpSock.on('error', (err) => this.log.warn({ err: err.message }, 'rtsp sim: RTP socket error'));
      rtcpSock.on('error', (err) => this.log.warn({ err: err.message }, 'rtsp sim: RTCP socket error'));
      child.once('error', (err) => finish(new Error(`cannot run ${this.opts.ffmpegPath}: ${err.message}`)));
      child.once('close', (code, signal) => {
        const reason = `ffmpeg exited (code ${code}, signal ${signal})${this.stderrSuffix()}`;
        if (this.child === child) this.child = null;
        if (!settled) return finish(new Error(reason));
        if (!this.stopping) {
          this.log.warn({ code, signal }, 'rtsp sim: ffmpeg exited on its own');
          this.emit('exit', reason);
        }
      });
    });
  }

  private stderrSuffix(): string {
    const tail = this.stderrTail.trim();
    return tail ? `: ${tail.split('\n').slice(-3).join(' | ')}` : '';
  }

  /** Graceful: `q` on stdin, then SIGTERM, then SIGKILL, each after the grace period. */
  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const timers: NodeJS.Timeout[] = [];
      try {
        child.stdin!.end('q');
      } catch {
        /* stdin already closed */
      }
      timers.push(setTimeout(() => child.kill('SIGTERM'), this.opts.stopGraceMs));
      timers.push(setTimeout(() => child.kill('SIGKILL'), 2 * this.opts.stopGraceMs));
      await this.exited;
      for (const t of timers) clearTimeout(t);
    } else {
      await this.exited;
    }
    this.child = null;
    const socks = [this.rtpSock, this.rtcpSock];
    this.rtpSock = this.rtcpSock = null;
    await Promise.all(socks.map(closeUdp));
  }
}
