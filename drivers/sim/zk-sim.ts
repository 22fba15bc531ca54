// A ZKTeco attendance terminal on 127.0.0.1, speaking the same TCP (and UDP) protocol as the real
// ones: sessions and comm-key auth, the attendance log with a chosen record layout, realtime
// EF_ATTLOG events re-sent until acknowledged, bulk download through PREPARE_BUFFER/READ_BUFFER
// (TCP: one DATA packet per chunk; UDP: DATA packets of at most 1024 bytes), clock with an offset,
// clear log, reboot, and faults to inject for tests. Demo mode runs it too.
import { createServer, type Server, type Socket } from 'node:net';
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { CMD, EF, decodePacket, encodePacket, frameTcp, makeCommKey, type DecodedPacket } from '../zk/packet.js';
import { TcpFramer } from '../zk/tcp-framer.js';
import {
  decodePackedTime,
  encodePackedTime,
  encodeRealtimeAttlog,
  encodeRecord,
  verifyToZk,
  type RealtimeLayout,
  type RecordSize,
} from '../zk/attlog.js';
import { fieldsInZone, invalidLocalFieldsReason, localToDate, type LocalFields } from '../time/zoned-time.js';
import type { VerifyMethod } from '../../config/clocks.js';

export interface ZkSimUser {
  uid: number;
  user: string;
}

export interface ZkSimRecord {
  uid: number;
  user: string;
  verifyCode: number;
  state: number;
  time: LocalFields;
}

export type ZkSimFault =
  /** READ_BUFFER answers PREPARE_DATA + ACK_OK but leaves the DATA packet out. */
  | 'drop-chunk'
  /** READ_BUFFER sends a DATA packet 7 bytes short of what PREPARE_DATA announced. */
  | 'truncate-chunk'
  /** Garbage bytes (TCP) before the next reply. */
  | 'garbage'
  /** No answer to the next command at all. */
  | 'silent';

export interface ZkSimOptions {
  host?: string;
  /** TCP port (UDP listens on the same number); 0 = pick a free one. */
  port?: number;
  /** Also answer on UDP. Default true. */
  udp?: boolean;
  /** Answer on TCP. Default true (false = a UDP-only terminal, for the fallback path). */
  tcp?: boolean;
  commKey?: number;
  serialNumber?: string;
  version?: string;
  recordSize?: RecordSize;
  realtimeLayout?: RealtimeLayout;
  /** Largest DATA packet over TCP (the terminal may split a chunk); default: whole chunk. */
  tcpDataPacketSize?: number;
  /** Seconds the terminal's clock is ahead of the host's. */
  clockOffsetSeconds?: number;
  /** Zone the terminal's wall clock runs in (default: the box's). */
  timeZone?: string;
  /** Supports CMD_PREPARE_BUFFER / CMD_READ_BUFFER (default true; false = old firmware). */
  bufferedRead?: boolean;
  /** How long an unacknowledged realtime event waits before it is sent again. */
  eventResendMs?: number;
  users?: ZkSimUser[];
}

interface Session {
  id: number;
  authed: boolean;
  eventFlags: number;
  send: (packet: Buffer) => void;
  /** TCP only: bytes straight onto the stream (fault injection). */
  raw: ((bytes: Buffer) => void) | null;
  close: () => void;
  buffer: Buffer | null;
  /** Realtime records waiting for the client's ACK_OK (head is in flight). */
  eventQueue: Buffer[];
  eventTimer: NodeJS.Timeout | null;
  isTcp: boolean;
}

export interface ZkSimStats {
  commands: Record<string, number>;
  eventsSent: number;
  eventsAcked: number;
  readBufferRequests: number;
  connections: number;
}

export class ZkSim extends EventEmitter<{ command: [cmd: number, sessionId: number] }> {
  readonly log: ZkSimRecord[] = [];
  readonly users = new Map<string, ZkSimUser>();
  readonly stats: ZkSimStats = { commands: {}, eventsSent: 0, eventsAcked: 0, readBufferRequests: 0, connections: 0 };
  /** Called before each command is handled (tests use it to race a punch against a clear). */
  beforeCommand: ((cmd: number) => void) | null = null;
  disabled = false;
  clockOffsetSeconds: number;
  private readonly opts: Required<Omit<ZkSimOptions, 'users' | 'timeZone' | 'tcpDataPacketSize'>> & {
    timeZone?: string;
    tcpDataPacketSize?: number;
  };
  private server: Server | null = null;
  private udpSock: UdpSocket | null = null;
  private sockets = new Set<Socket>();
  private sessions = new Map<string | Socket, Session>();
  private nextSession = 0x4d2;
  private faults: ZkSimFault[] = [];
  private boundPort = 0;
  private down = false;

  constructor(opts: ZkSimOptions = {}) {
    super();
    this.opts = {
      host: opts.host ?? '127.0.0.1',
      port: opts.port ?? 0,
      udp: opts.udp ?? true,
      tcp: opts.tcp ?? true,
      commKey: opts.commKey ?? 0,
      // Unique per listening port unless given: two simulated terminals never share a serial.
      serialNumber: opts.serialNumber ?? '',
      version: opts.version ?? 'Ver 6.60 Apr 28 2020',
      recordSize: opts.recordSize ?? 40,
      realtimeLayout: opts.realtimeLayout ?? 36,
      clockOffsetSeconds: opts.clockOffsetSeconds ?? 0,
      eventResendMs: opts.eventResendMs ?? 1000,
      bufferedRead: opts.bufferedRead ?? true,
      timeZone: opts.timeZone,
      tcpDataPacketSize: opts.tcpDataPacketSize,
    };
    this.clockOffsetSeconds = this.opts.clockOffsetSeconds;
    for (const u of opts.users ?? []) this.users.set(u.user, u);
  }

  get port(): number {
    return this.boundPort;
  }

  get host(): string {
    return this.opts.host;
  }

  /** Starts listening; resolves with the port (TCP and UDP share the number). */
  async start(): Promise<number> {
    // Retry when UDP's twin port is taken: pick a TCP port, then try UDP on the same number.
    for (let attempt = 0; ; attempt++) {
      try {
        await this.listen(this.boundPort || this.opts.port);
        this.down = false;
        return this.boundPort;
      } catch (e) {
        await this.closeListeners();
        if (this.opts.port !== 0 || this.boundPort !== 0 || attempt > 10) throw e;
      }
    }
  }

  private async listen(port: number): Promise<void> {
    if (this.opts.tcp) {
      const server = createServer((sock) => this.onTcpConnection(sock));
      this.server = server;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, this.opts.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const a = server.address();
      port = typeof a === 'object' && a ? a.port : port;
    }
    if (this.opts.udp) {
      const udp = createSocket('udp4');
      this.udpSock = udp;
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(port, this.opts.host, () => {
          udp.off('error', reject);
          resolve();
        });
      });
      udp.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo));
      udp.on('error', () => undefined);
      port = udp.address().port;
    }
    this.boundPort = port;
  }

  private async closeListeners(): Promise<void> {
    for (const s of this.sessions.values()) if (s.eventTimer) clearTimeout(s.eventTimer);
    this.sessions.clear();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((r) => server.close(() => r()));
    const udp = this.udpSock;
    this.udpSock = null;
    if (udp) await new Promise<void>((r) => udp.close(() => r()));
  }

  async stop(): Promise<void> {
    this.down = true;
    await this.closeListeners();
  }

  /**
   * Reboots: every connection drops, the port refuses for `downMs`, then the terminal is back with
   * its log intact (sessions and subscriptions are gone, as after a real reboot).
   */
  async reboot(downMs = 300): Promise<void> {
    await this.stop();
    await new Promise((r) => setTimeout(r, downMs));
    await this.listen(this.boundPort);
    this.down = false;
  }

  get isDown(): boolean {
    return this.down;
  }

  /** Queues faults; each applies once, in order, to the next matching situation. */
  injectFault(fault: ZkSimFault, times = 1): void {
    for (let i = 0; i < times; i++) this.faults.push(fault);
  }

  private takeFault(kinds: ZkSimFault[]): ZkSimFault | null {
    const i = this.faults.findIndex((f) => kinds.includes(f));
    if (i < 0) return null;
    return this.faults.splice(i, 1)[0];
  }

  /** The terminal's wall-clock time now. */
  now(): LocalFields {
    return fieldsInZone(new Date(Date.now() + this.clockOffsetSeconds * 1000), this.opts.timeZone);
  }

  /**
   * A person verifies at the terminal: the record is logged and pushed as a realtime event to every
   * session subscribed to EF_ATTLOG (re-sent until acknowledged).
   */
  punch(user: string, verify: VerifyMethod | number = 'fingerprint', time?: LocalFields, state = 0): ZkSimRecord {
    let u = this.users.get(user);
    if (!u) {
      u = { uid: this.users.size + 1, user };
      this.users.set(user, u);
    }
    const rec: ZkSimRecord = {
      uid: u.uid,
      user,
      verifyCode: typeof verify === 'number' ? verify : verifyToZk(verify),
      state,
      time: time ?? this.now(),
    };
    this.log.push(rec);
    const data = encodeRealtimeAttlog(rec, this.opts.realtimeLayout);
    for (const s of this.sessions.values()) {
      if (s.authed && s.eventFlags & EF.ATTLOG) {
        s.eventQueue.push(data);
        if (s.eventQueue.length === 1) this.sendEvent(s);
      }
    }
    return rec;
  }

  /** Adds records straight to the log without events (a log filled while nobody listened). */
  fill(records: Array<Omit<ZkSimRecord, 'uid'> & { uid?: number }>): void {
    for (const r of records) {
      let u = this.users.get(r.user);
      if (!u) {
        u = { uid: r.uid ?? this.users.size + 1, user: r.user };
        this.users.set(r.user, u);
      }
      this.log.push({ ...r, uid: u.uid });
    }
  }

  /** Sessions currently open (TCP connections and UDP peers). */
  get sessionCount(): number {
    return this.sessions.size;
  }

  // ---- transport -------------------------------------------------------------------------------

  private onTcpConnection(sock: Socket): void {
    this.sockets.add(sock);
    sock.setNoDelay(true); // PREPARE_DATA / DATA / ACK_OK go out back to back
    this.stats.connections++;
    const framer = new TcpFramer();
    const session = this.newSession(
      (p) => {
        if (!sock.destroyed) sock.write(frameTcp(p));
      },
      () => sock.end(),
      (bytes) => {
        if (!sock.destroyed) sock.write(bytes);
      },
    );
    this.sessions.set(sock, session);
    sock.on('data', (chunk) => {
      for (const p of framer.push(chunk)) this.handle(session, p);
    });
    const cleanup = (): void => {
      this.sockets.delete(sock);
      if (session.eventTimer) clearTimeout(session.eventTimer);
      this.sessions.delete(sock);
    };
    sock.on('close', cleanup);
    sock.on('error', cleanup);
  }

  private onDatagram(msg: Buffer, rinfo: RemoteInfo): void {
    const key = `${rinfo.address}:${rinfo.port}`;
    const p = decodePacket(msg);
    if (!p || !p.checksumOk) return;
    let session = this.sessions.get(key);
    if (!session || p.command === CMD.CONNECT) {
      if (session?.eventTimer) clearTimeout(session.eventTimer);
      this.stats.connections++;
      session = this.newSession(
        (pkt) => this.udpSock?.send(pkt, rinfo.port, rinfo.address),
        () => {
          const s = this.sessions.get(key);
          if (s?.eventTimer) clearTimeout(s.eventTimer);
          this.sessions.delete(key);
        },
        null,
      );
      this.sessions.set(key, session);
    }
    this.handle(session, p);
  }

  private newSession(send: (p: Buffer) => void, close: () => void, raw: ((b: Buffer) => void) | null): Session {
    return { id: 0, authed: false, eventFlags: 0, send, raw, close, buffer: null, eventQueue: [], eventTimer: null, isTcp: raw !== null };
  }

  private sendEvent(s: Session): void {
    if (s.eventTimer) clearTimeout(s.eventTimer);
    s.eventTimer = null;
    const data = s.eventQueue[0];
    if (!data || !this.sessionsHas(s)) return;
    // Realtime packets: command CMD_REG_EVENT, the event code in the session field, reply id 0.
    s.send(encodePacket({ command: CMD.REG_EVENT, sessionId: EF.ATTLOG, replyId: 0, data }));
    this.stats.eventsSent++;
    s.eventTimer = setTimeout(() => this.sendEvent(s), this.opts.eventResendMs);
  }

  private sessionsHas(s: Session): boolean {
    for (const v of this.sessions.values()) if (v === s) return true;
    return false;
  }

  // ---- protocol --------------------------------------------------------------------------------

  private reply(s: Session, req: DecodedPacket, command: number, data?: Buffer): void {
    if (s.raw && this.takeFault(['garbage'])) {
      // Noise including a false start (magic with an absurd length) before the real reply.
      s.raw(Buffer.from([0x00, 0x13, 0x50, 0x50, 0x82, 0x7d, 0xff, 0xff, 0xff, 0x7f, 0x50, 0x50, 0xde, 0xad]));
    }
    s.send(encodePacket({ command, sessionId: s.id, replyId: req.replyId, data }));
  }

  private handle(s: Session, p: DecodedPacket): void {
    const name = String(p.command);
    this.stats.commands[name] = (this.stats.commands[name] ?? 0) + 1;
    this.emit('command', p.command, s.id);
    this.beforeCommand?.(p.command);
    if (p.command === CMD.ACK_OK) {
      // The client acknowledging the realtime event in flight.
      if (s.eventQueue.length > 0) {
        s.eventQueue.shift();
        this.stats.eventsAcked++;
        if (s.eventTimer) clearTimeout(s.eventTimer);
        s.eventTimer = null;
        if (s.eventQueue.length > 0) this.sendEvent(s);
      }
      return;
    }
    if (this.takeFault(['silent'])) return;
    if (p.command === CMD.CONNECT) {
      s.id = this.nextSession = (this.nextSession + 1) & 0xffff || 1;
      s.authed = this.opts.commKey === 0;
      return this.reply(s, p, s.authed ? CMD.ACK_OK : CMD.ACK_UNAUTH);
    }
    if (p.command === CMD.AUTH) {
      const expected = makeCommKey(this.opts.commKey, s.id);
      s.authed = p.data.length >= 4 && expected.equals(p.data.subarray(0, 4));
      return this.reply(s, p, s.authed ? CMD.ACK_OK : CMD.ACK_UNAUTH);
    }
    if (!s.authed) return this.reply(s, p, CMD.ACK_UNAUTH);
    switch (p.command) {
      case CMD.EXIT:
        this.reply(s, p, CMD.ACK_OK);
        return s.close();
      case CMD.ENABLEDEVICE:
        this.disabled = false;
        return this.reply(s, p, CMD.ACK_OK);
      case CMD.DISABLEDEVICE:
        this.disabled = true;
        return this.reply(s, p, CMD.ACK_OK);
      case CMD.REFRESHDATA:
        return this.reply(s, p, CMD.ACK_OK);
      case CMD.REG_EVENT:
        s.eventFlags = p.data.length >= 4 ? p.data.readUInt32LE(0) : p.data.length >= 2 ? p.data.readUInt16LE(0) : 0;
        return this.reply(s, p, CMD.ACK_OK);
      case CMD.GET_VERSION:
        return this.reply(s, p, CMD.ACK_OK, Buffer.from(`${this.opts.version}\0`, 'latin1'));
      case CMD.OPTIONS_RRQ: {
        const key = p.data.toString('latin1').replace(/\0.*$/s, '');
        const values: Record<string, string> = {
          '~SerialNumber': this.opts.serialNumber || `SIM${String(this.boundPort).padStart(7, '0')}`,
          '~DeviceName': 'tpgw-sim',
          '~Platform': 'ZMM220_TFT',
        };
        if (!(key in values)) return this.reply(s, p, CMD.ACK_ERROR);
        return this.reply(s, p, CMD.ACK_OK, Buffer.from(`${key}=${values[key]}\0`, 'latin1'));
      }
      case CMD.GET_FREE_SIZES: {
        const b = Buffer.alloc(92);
        b.writeInt32LE(this.users.size, 16);
        b.writeInt32LE(this.log.length, 32);
        b.writeInt32LE(3000, 56);
        b.writeInt32LE(10000, 60);
        b.writeInt32LE(100000, 64);
        b.writeInt32LE(100000 - this.log.length, 76);
        return this.reply(s, p, CMD.ACK_OK, b);
      }
      case CMD.GET_TIME: {
        const b = Buffer.alloc(4);
        b.writeUInt32LE(encodePackedTime(this.now()), 0);
        return this.reply(s, p, CMD.ACK_OK, b);
      }
      case CMD.SET_TIME: {
        if (p.data.length < 4) return this.reply(s, p, CMD.ACK_ERROR);
        const fields = decodePackedTime(p.data.readUInt32LE(0));
        // The packed format can say 31 February; such a time names no instant, so it is refused.
        if (invalidLocalFieldsReason(fields)) return this.reply(s, p, CMD.ACK_ERROR);
        const wanted = localToDate(fields, this.opts.timeZone).getTime();
        this.clockOffsetSeconds = Math.round((wanted - Date.now()) / 1000);
        return this.reply(s, p, CMD.ACK_OK);
      }
      case CMD.CLEAR_ATTLOG:
        this.log.length = 0;
        return this.reply(s, p, CMD.ACK_OK);
      case CMD.ATTLOG_RRQ:
        // The old, unchunked way: the whole log in one data sequence.
        return this.sendData(s, p, this.attlogBuffer());
      case CMD.PREPARE_BUFFER: {
        if (!this.opts.bufferedRead) return this.reply(s, p, CMD.ACK_UNKNOWN);
        const inner = p.data.length >= 3 ? p.data.readUInt16LE(1) : -1;
        if (inner !== CMD.ATTLOG_RRQ) return this.reply(s, p, CMD.ACK_ERROR);
        s.buffer = this.attlogBuffer();
        if (s.buffer.length <= 1024) {
          const small = s.buffer;
          s.buffer = null;
          return this.reply(s, p, CMD.DATA, small);
        }
        const info = Buffer.alloc(13);
        info.writeUInt32LE(s.buffer.length, 1);
        info.writeUInt32LE(s.buffer.length, 5);
        return this.reply(s, p, CMD.ACK_OK, info);
      }
      case CMD.READ_BUFFER:
        return this.readBuffer(s, p);
      case CMD.FREE_DATA:
        s.buffer = null;
        return this.reply(s, p, CMD.ACK_OK);
      default:
        return this.reply(s, p, CMD.ACK_UNKNOWN);
    }
  }

  private readBuffer(s: Session, p: DecodedPacket): void {
    this.stats.readBufferRequests++;
    if (!s.buffer || p.data.length < 8) return this.reply(s, p, CMD.ACK_ERROR);
    const start = p.data.readInt32LE(0);
    const size = p.data.readInt32LE(4);
    if (start < 0 || size <= 0 || start + size > s.buffer.length) return this.reply(s, p, CMD.ACK_ERROR);
    this.sendData(s, p, s.buffer.subarray(start, start + size));
  }

  /** PREPARE_DATA (size) + DATA packet(s) + ACK_OK, all with the request's reply id. */
  private sendData(s: Session, p: DecodedPacket, data: Buffer): void {
    let chunk = data;
    const prep = Buffer.alloc(8);
    prep.writeUInt32LE(data.length, 0);
    this.reply(s, p, CMD.PREPARE_DATA, prep);
    const fault = this.takeFault(['drop-chunk', 'truncate-chunk']);
    if (fault === 'truncate-chunk') chunk = chunk.subarray(0, Math.max(0, chunk.length - 7));
    if (fault !== 'drop-chunk') {
      const max = s.isTcp ? (this.opts.tcpDataPacketSize ?? chunk.length) : 1024;
      for (let off = 0; off < chunk.length; off += max) {
        this.reply(s, p, CMD.DATA, chunk.subarray(off, off + max));
      }
    }
    this.reply(s, p, CMD.ACK_OK);
  }

  private attlogBuffer(): Buffer {
    const size = this.opts.recordSize;
    const body = Buffer.concat(this.log.map((r) => encodeRecord(r, size)));
    const head = Buffer.alloc(4);
    head.writeUInt32LE(body.length, 0);
    return Buffer.concat([head, body]);
  }
}
