// A simulated RTSP camera in pure Node.js plus ffmpeg: demo mode on a fresh box (Node and an
// ffmpeg, possibly @ffmpeg-installer's) has a camera to record, and tests can use it where
// GStreamer's RTSP server is not installed. ffmpeg encodes a live test pattern to RTP on
// loopback (rtsp-media-source.ts); a minimal RTSP/1.0 server (rtsp-connection.ts) serves its SDP
// and relays the packets, interleaved over TCP, to every playing client. One encoder serves
// all clients, like a real camera. The current GOP is cached so a joining client starts on a
// keyframe. stop() then start() binds the same port again ("camera goes away and comes back").
//
//   const cam = new RtspCameraSim({ ffmpegPath });
//   const { url } = await cam.start();   // rtsp://127.0.0.1:<port>/stream
//   ...
//   await cam.stop();
import { createServer, type Server, type Socket } from 'node:net';
import { randomInt } from 'node:crypto';
import { z } from 'zod';
import { silentLogger, type StreamsLogger } from '../logger.js';
import { RtspAuthenticator, type RtspAuthScheme } from './rtsp-auth.js';
import { RtspConnection } from './rtsp-connection.js';
import { GopCache } from './rtsp-gop-cache.js';
import { detectEncoder, RtspMediaSource } from './rtsp-media-source.js';
import { rewriteSdp, type ServedSdp, type SimCodec } from './rtsp-sdp.js';

export type { SimCodec } from './rtsp-sdp.js';
export type { RtspAuthScheme } from './rtsp-auth.js';

export interface RtspCameraSimOptions {
  ffmpegPath: string;
  /** Address to listen on. Default 127.0.0.1. */
  host?: string;
  /** 0 (default): a free port, kept for later restarts of this instance. */
  port?: number;
  /** Default "/stream". */
  path?: string;
  /** Default 640x360 (even numbers: yuv420p). */
  width?: number;
  height?: number;
  /** Default 15. */
  fps?: number;
  /** Keyframe interval in frames. Default: fps (one second). */
  gopFrames?: number;
  /** Bits per second, or an ffmpeg rate such as "600k". Default "600k". */
  bitrate?: number | string;
  /** "auto" (default): H.264 when the ffmpeg has libx264, else MPEG-4 part 2. */
  codec?: SimCodec | 'auto';
  /** With a password: clients must authenticate. */
  username?: string;
  password?: string;
  /** Default "digest", as most IP cameras. */
  authScheme?: RtspAuthScheme;
  /** How long start() waits for ffmpeg's first packet. Default 20 000 ms. */
  startTimeoutMs?: number;
  /** Grace before each escalation when stopping ffmpeg (q → SIGTERM → SIGKILL). Default 2000 ms. */
  stopGraceMs?: number;
  log?: StreamsLogger;
}

const even = (what: string) => z.number().int().min(16).max(7680).refine((n) => n % 2 === 0, `${what} must be even`);

const optionsSchema = z
  .object({
    ffmpegPath: z.string().min(1),
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(0),
    path: z
      .string()
      .regex(/^(\/[A-Za-z0-9._~-]+)+\/?$/, 'path must look like /stream')
      .default('/stream')
      .transform((p) => p.replace(/\/$/, '')),
    width: even('width').default(640),
    height: even('height').default(360),
    fps: z.number().int().min(1).max(120).default(15),
    gopFrames: z.number().int().min(1).max(10_000).optional(),
    bitrate: z.union([z.number().int().min(10_000), z.string().regex(/^\d+(\.\d+)?[kKM]?$/)]).default('600k'),
    codec: z.enum(['auto', 'h264', 'mpeg4']).default('auto'),
    username: z.string().min(1).optional(),
    password: z.string().optional(),
    authScheme: z.enum(['digest', 'basic']).default('digest'),
    startTimeoutMs: z.number().int().positive().default(20_000),
    stopGraceMs: z.number().int().positive().default(2_000),
  })
  .refine((o) => (o.username === undefined) === (o.password === undefined), 'username and password go together');

type ParsedOptions = z.output<typeof optionsSchema>;

type State = 'stopped' | 'starting' | 'running' | 'stopping';

/** Delay before the encoder is started again after ffmpeg died on its own. */
const MEDIA_RESTART_MS = 1_000;

export class RtspCameraSim {
  private readonly o: ParsedOptions;
  private readonly log: StreamsLogger;
  private readonly auth: RtspAuthenticator | null;
  private state: State = 'stopped';
  private transition: Promise<unknown> = Promise.resolve();
  private server: Server | null = null;
  private media: RtspMediaSource | null = null;
  private served: ServedSdp | null = null;
  private gop: GopCache | null = null;
  private codec: SimCodec | null = null;
  private readonly connections = new Set<RtspConnection>();
  private readonly sockets = new Set<Socket>();
  private boundPort: number | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  /** The dead encoder's cleanup (UDP sockets), awaited by stop(). */
  private pendingMediaStop: Promise<void> = Promise.resolve();
  private currentUrl: string | null = null;
  /** The SDP's o= session id: fixed for this camera, like a real one's. */
  private readonly sdpSessionId = String(randomInt(1, 2 ** 31));

  constructor(opts: RtspCameraSimOptions) {
    const { log, ...rest } = opts;
    this.o = optionsSchema.parse(rest);
    this.log = log ?? silentLogger;
    this.auth =
      this.o.username !== undefined ? new RtspAuthenticator(this.o.username, this.o.password ?? '', this.o.authScheme) : null;
  }

  /** Clients currently playing the stream. */
  get clients(): number {
    let n = 0;
    for (const c of this.connections) if (c.playing) n++;
    return n;
  }

  /** Open RTSP connections, playing or not. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** rtsp://host:port/path (never with credentials) while running, else null. */
  get url(): string | null {
    return this.state === 'running' ? this.currentUrl : null;
  }

  /** The codec being served, known once started. */
  get videoCodec(): SimCodec | null {
    return this.codec;
  }

  /** The encoding ffmpeg's pid, null when none runs (tests check stop() ends it). */
  get encoderPid(): number | null {
    return this.media?.pid ?? null;
  }

  /** Starts encoder and server; resolves with the stream URL once the first packet was encoded. */
  start(): Promise<{ url: string }> {
    const run = this.transition.then(async () => {
      if (this.state === 'running') return { url: this.currentUrl! };
      this.state = 'starting';
      try {
        await this.startMedia();
        await this.listen();
        this.state = 'running';
        this.log.info({ url: this.currentUrl, codec: this.codec }, 'rtsp sim: camera up');
        return { url: this.currentUrl! };
      } catch (err) {
        await this.teardown();
        throw err;
      }
    });
    this.transition = run.catch(() => {});
    return run;
  }

  /** Drops every client, stops ffmpeg, closes all sockets. Safe to call more than once. */
  stop(): Promise<void> {
    const run = this.transition.then(() => this.teardown());
    this.transition = run.catch(() => {});
    return run;
  }

  private async teardown(): Promise<void> {
    if (this.state === 'stopped' && !this.server && !this.media) return;
    this.state = 'stopping';
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    const server = this.server;
    this.server = null;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    this.dropClients();
    for (const s of this.sockets) s.destroy(); // sockets accepted but not yet wrapped
    await closed;
    await this.pendingMediaStop;
    await this.stopMedia();
    this.served = null;
    this.gop = null;
    this.currentUrl = null;
    this.state = 'stopped';
    this.log.info({}, 'rtsp sim: camera down');
  }

  private dropClients(): void {
    for (const c of this.connections) c.destroy();
    this.connections.clear();
  }

  private async startMedia(): Promise<void> {
    this.codec ??= this.o.codec === 'auto' ? await detectEncoder(this.o.ffmpegPath) : this.o.codec;
    const codec = this.codec;
    const media = new RtspMediaSource({
      ffmpegPath: this.o.ffmpegPath,
      width: this.o.width,
      height: this.o.height,
      fps: this.o.fps,
      gopFrames: this.o.gopFrames ?? this.o.fps,
      bitrate: String(this.o.bitrate),
      codec,
      startTimeoutMs: this.o.startTimeoutMs,
      stopGraceMs: this.o.stopGraceMs,
      log: this.log,
    });
    const gop = new GopCache(codec);
    this.media = media;
    this.gop = gop;
    media.on('rtp', (packet) => {
      const startsGroup = gop.push(packet);
      for (const c of this.connections) c.sendRtp(packet, startsGroup);
    });
    media.on('rtcp', (packet) => {
      for (const c of this.connections) c.sendRtcp(packet);
    });
    media.on('exit', (reason) => this.onMediaExit(media, reason));
    await media.start();
    const served = rewriteSdp(media.sdp, this.sdpSessionId);
    if (served.codec !== codec) throw new Error(`ffmpeg encoded ${served.codec}, expected ${codec}`);
    this.served = served;
  }

  private async stopMedia(): Promise<void> {
    const media = this.media;
    this.media = null;
    if (media) {
      media.removeAllListeners();
      await media.stop();
    }
  }

  /** ffmpeg died: like a camera rebooting, clients are dropped and the encoder comes back. */
  private onMediaExit(media: RtspMediaSource, reason: string): void {
    if (this.media !== media || this.state !== 'running') return;
    this.log.warn({ reason }, 'rtsp sim: encoder died, restarting');
    this.served = null;
    this.dropClients();
    this.pendingMediaStop = this.stopMedia();
    const retry = () => {
      this.restartTimer = null;
      if (this.state !== 'running') return;
      this.startMedia().catch(async (err: Error) => {
        this.log.error({ err: err.message }, 'rtsp sim: encoder restart failed');
        await this.stopMedia();
        if (this.state === 'running') this.restartTimer = setTimeout(retry, MEDIA_RESTART_MS);
      });
    };
    this.restartTimer = setTimeout(retry, MEDIA_RESTART_MS);
  }

  private listen(): Promise<void> {
    const server = createServer((socket) => this.onSocket(socket));
    this.server = server;
    const port = this.boundPort ?? this.o.port;
    return new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.o.host, () => {
        server.off('error', reject);
        server.on('error', (err) => this.log.error({ err: err.message }, 'rtsp sim: server error'));
        const addr = server.address();
        this.boundPort = typeof addr === 'object' && addr ? addr.port : port;
        const host = this.o.host === '0.0.0.0' || this.o.host === '::' ? '127.0.0.1' : this.o.host;
        const hostPart = host.includes(':') ? `[${host}]` : host;
        this.currentUrl = `rtsp://${hostPart}:${this.boundPort}${this.o.path}`;
        resolve();
      });
    });
  }

  private onSocket(socket: Socket): void {
    if (this.state !== 'running' && this.state !== 'starting') {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    const conn = new RtspConnection(
      socket,
      {
        path: this.o.path,
        served: () => this.served,
        auth: this.auth,
        gopPackets: () => this.gop?.packets() ?? [],
        log: this.log,
      },
      (c) => this.connections.delete(c),
    );
    this.connections.add(conn);
  }
}
