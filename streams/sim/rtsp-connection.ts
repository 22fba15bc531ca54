// One client connection to the simulated camera: answers RTSP/1.0 requests and, once the
// client PLAYs, sends it the RTP packets interleaved on the same TCP connection. Only
// RTP/AVP/TCP is offered (a UDP SETUP gets 461, on which ffmpeg and most players retry with
// TCP), so one session lives exactly as long as its connection.
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { StreamsLogger } from '../logger.js';
import type { RtspAuthenticator } from './rtsp-auth.js';
import { parseRtp } from './rtsp-gop-cache.js';
import { TRACK_CONTROL, type ServedSdp } from './rtsp-sdp.js';
import { formatResponse, interleavedFrame, RtspRequestReader, type RtspRequest } from './rtsp-wire.js';

/** What a connection needs from the server it belongs to. */
export interface RtspServerContext {
  /** Presentation path, e.g. "/stream" (no trailing slash). */
  readonly path: string;
  /** The SDP to serve; null while the encoder is (re)starting. */
  served(): ServedSdp | null;
  readonly auth: RtspAuthenticator | null;
  /** Packets of the current GOP, keyframe first (empty when none is cached). */
  gopPackets(): readonly Buffer[];
  readonly log: StreamsLogger;
}

const PUBLIC = 'OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER';
const SESSION_TIMEOUT_S = 60;
/** Bytes queued for a client beyond which packets are dropped until the next keyframe. */
const MAX_BACKLOG_BYTES = 4 * 1024 * 1024;

type Target = 'any' | 'presentation' | 'track';

interface Session {
  id: string;
  rtpChannel: number;
}

/** The first RTP/AVP/TCP alternative of a Transport header: its RTP channel, or null. */
export function pickTcpTransport(transport: string): number | null {
  for (const alt of transport.split(',')) {
    const parts = alt.split(';').map((p) => p.trim());
    if (parts[0].toUpperCase() !== 'RTP/AVP/TCP') continue;
    if (parts.some((p) => p.toLowerCase() === 'multicast')) continue;
    const inter = parts.map((p) => /^interleaved=(\d{1,3})(?:-(\d{1,3}))?$/i.exec(p)).find((m) => m);
    if (!inter) return 0;
    const channel = Number(inter[1]);
    if (channel > 254 || channel % 2 !== 0) continue;
    return channel;
  }
  return null;
}

export class RtspConnection {
  private readonly reader = new RtspRequestReader();
  private session: Session | null = null;
  private isPlaying = false;
  /** Skip packets until a keyframe starts: after a join without cached GOP, or after drops. */
  private waitingForKey = true;
  private closed = false;
  /** Packets not sent because the client could not keep up. */
  dropped = 0;

  constructor(
    private readonly socket: Socket,
    private readonly ctx: RtspServerContext,
    private readonly onClose: (c: RtspConnection) => void,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => ctx.log.debug({ err: err.message }, 'rtsp sim: client socket error'));
    socket.on('close', () => {
      this.closed = true;
      this.isPlaying = false;
      onClose(this);
    });
  }

  get playing(): boolean {
    return this.isPlaying;
  }

  /** Forwards one RTP packet; `startsGroup` marks the first packet of a keyframe. */
  sendRtp(packet: Buffer, startsGroup: boolean): void {
    if (!this.isPlaying || !this.session) return;
    if (this.waitingForKey) {
      if (!startsGroup) return;
      this.waitingForKey = false;
    }
    if (this.socket.writableLength > MAX_BACKLOG_BYTES) {
      this.dropped++;
      this.waitingForKey = true;
      return;
    }
    this.socket.write(interleavedFrame(this.session.rtpChannel, packet));
  }

  /** Forwards ffmpeg's RTCP sender reports, which map RTP time to wall-clock time. */
  sendRtcp(packet: Buffer): void {
    if (!this.isPlaying || !this.session || this.waitingForKey) return;
    if (this.socket.writableLength > MAX_BACKLOG_BYTES) return;
    this.socket.write(interleavedFrame(this.session.rtpChannel + 1, packet));
  }

  /** Drops the connection at once: the camera is going away. */
  destroy(): void {
    this.isPlaying = false;
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    for (const item of this.reader.push(chunk)) {
      if (this.closed) return;
      if (item.kind === 'interleaved') continue; // RTCP receiver reports: nothing to do with them
      if (item.kind === 'malformed') {
        this.ctx.log.debug({ reason: item.reason }, 'rtsp sim: malformed request');
        this.reply(400, item.cseq, []);
        continue;
      }
      try {
        this.handle(item);
      } catch (err) {
        // A bug here must not take the camera down with it; the client learns something broke.
        this.ctx.log.error({ err: (err as Error).message }, 'rtsp sim: request handler failed');
        this.reply(500, item.headers.get('cseq'), []);
      }
    }
    if (this.reader.broken && !this.closed) this.socket.end();
  }

  private reply(status: number, cseq: string | undefined, headers: Array<[string, string]>, body?: string): void {
    if (this.closed || this.socket.destroyed) return;
    const all: Array<[string, string]> = [];
    if (cseq !== undefined) all.push(['CSeq', cseq]);
    all.push(['Server', 'tpgw-rtsp-sim'], ['Date', new Date().toUTCString()], ...headers);
    this.socket.write(formatResponse(status, all, body));
  }

  private handle(req: RtspRequest): void {
    const cseq = req.headers.get('cseq');
    const reply = (status: number, headers: Array<[string, string]> = [], body?: string) =>
      this.reply(status, cseq, headers, body);
    if (!/^RTSP\/1\.\d+$/.test(req.version)) return reply(505);
    const method = req.method.toUpperCase();
    if (method === 'OPTIONS') return reply(200, [['Public', PUBLIC]]);
    if (!PUBLIC.split(', ').includes(method)) return reply(501, [['Public', PUBLIC]]);

    const where = this.resolve(req.uri);
    if (where === 'bad') return reply(400);
    if (this.ctx.auth && !this.ctx.auth.check(req.method, req.headers.get('authorization'))) {
      return reply(401, [['WWW-Authenticate', this.ctx.auth.challenge()]]);
    }
    if (!where.target) return reply(404);
    if (method === 'GET_PARAMETER' || method === 'SET_PARAMETER') {
      return reply(200, this.session ? [['Session', this.session.id]] : []);
    }
    if (where.target === 'any') return reply(400);
    const contentBase = `${where.origin}${this.ctx.path}/`;

    if (method === 'DESCRIBE') {
      const served = this.ctx.served();
      if (!served) return reply(503, [['Retry-After', '2']]);
      return reply(
        200,
        [
          ['Content-Type', 'application/sdp'],
          ['Content-Base', contentBase],
        ],
        served.sdp,
      );
    }

    const sessionHeader = req.headers.get('session')?.split(';')[0].trim();
    const sessionMatches = this.session !== null && sessionHeader === this.session.id;

    if (method === 'SETUP') {
      if (!this.ctx.served()) return reply(503, [['Retry-After', '2']]);
      if (sessionHeader !== undefined && !sessionMatches) return reply(454);
      const channel = pickTcpTransport(req.headers.get('transport') ?? '');
      if (channel === null) return reply(461);
      this.session ??= { id: randomBytes(8).toString('hex'), rtpChannel: channel };
      this.session.rtpChannel = channel;
      return reply(200, [
        ['Transport', `RTP/AVP/TCP;unicast;interleaved=${channel}-${channel + 1}`],
        ['Session', `${this.session.id};timeout=${SESSION_TIMEOUT_S}`],
      ]);
    }

    // PLAY, PAUSE, TEARDOWN act on the session set up on this connection.
    if (!this.session) return reply(sessionHeader === undefined ? 455 : 454);
    if (!sessionMatches) return reply(454);
    const session = this.session;

    if (method === 'PLAY') {
      const cached = this.ctx.gopPackets();
      const first = cached.length ? parseRtp(cached[0]) : null;
      const headers: Array<[string, string]> = [
        ['Session', session.id],
        ['Range', 'npt=0.000-'],
      ];
      if (first) {
        headers.push(['RTP-Info', `url=${contentBase}${TRACK_CONTROL};seq=${first.sequence};rtptime=${first.timestamp}`]);
      }
      reply(200, headers);
      // The response must precede the media. A joining client gets the cached GOP at once,
      // so its first frame is a keyframe; without one it waits for the next keyframe.
      if (!this.isPlaying) {
        this.isPlaying = true;
        this.waitingForKey = true;
        for (const [i, packet] of cached.entries()) this.sendRtp(packet, i === 0);
      }
      return;
    }
    if (method === 'PAUSE') {
      this.isPlaying = false;
      return reply(200, [['Session', session.id]]);
    }
    // TEARDOWN
    this.isPlaying = false;
    this.session = null;
    return reply(200, [['Session', session.id]]);
  }

  /** What a request URI names: the presentation, its one track, anything ("*"), or nothing. */
  private resolve(uri: string): 'bad' | { target: Target | null; origin: string } {
    if (uri === '*') return { target: 'any', origin: '' };
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      return 'bad';
    }
    if (url.protocol !== 'rtsp:' || !url.host) return 'bad';
    const origin = `rtsp://${url.host}`;
    const path = url.pathname.replace(/\/+$/, '');
    if (path === this.ctx.path) return { target: 'presentation', origin };
    if (path === `${this.ctx.path}/${TRACK_CONTROL}`) return { target: 'track', origin };
    return { target: null, origin };
  }
}
