// The gateway's one MQTT connection to the center.
//
// Decisions (and why):
// - A fresh mqtt.js client per connection attempt, with mqtt.js's own reconnect off
//   (reconnectPeriod 0): mqtt.js only knows a fixed reconnect period, and its in-memory outgoing
//   store would replay publishes on reconnect. The SQLite outbox is the only queue, so every
//   publish made while disconnected is refused and every unfinished one is rejected on close;
//   the uplink re-sends from SQLite. Reconnects use exponential backoff with jitter (backoff.ts).
// - Clean session (MQTT 5: session expiry 0). A persistent session would make the broker keep
//   acks and requests for us while we are away, but the uplink re-sends every in-flight batch on
//   reconnect and the center re-acks duplicates, so nothing is lost without it; and a cluster
//   serving thousands of gateways does not have to hold a session for each one that is down.
//   Requests sent while we are offline are lost: the center retries (it gets no response).
// - Last Will: retained QoS 1 `{"v":1,"state":"offline"}` on the status topic; on every connect
//   a retained `online` status replaces it and subscriptions are re-applied.
// - Credentials never appear in logs or status: the URL is shown without userinfo.
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import type { LinkStatus } from '../types.js';
import { silentLogger, type SyncLogger } from '../logger.js';
import { backoffDelay } from './backoff.js';
import type { Topics } from './topics.js';

export interface MqttLinkOptions {
  url: string;
  username?: string;
  password?: string;
  clientId: string;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  rejectUnauthorized: boolean;
  /** Seconds. */
  keepalive: number;
  protocolVersion: 4 | 5;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  topics: Topics;
  /** Extra fields for the retained online status (version, startedAt, ...). */
  statusOnline: () => object;
  logger?: SyncLogger;
  /** Connection attempt timeout in ms (default 10 s). */
  connectTimeoutMs?: number;
}

export interface PublishOptions {
  qos: 0 | 1 | 2;
  retain: boolean;
}

export interface MqttLinkEvents {
  connected: [];
  disconnected: [reason: string];
  message: [topic: string, payload: Buffer];
}

/** A connection that stayed up this long resets the backoff; shorter ones keep growing it. */
const STABLE_MS = 30_000;

/** The URL with any user:password removed, for logs and status. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return '<invalid url>';
  }
}

export class MqttLink extends EventEmitter<MqttLinkEvents> {
  private client: MqttClient | null = null;
  private readonly log: SyncLogger;
  private readonly tls: Pick<IClientOptions, 'ca' | 'cert' | 'key'>;
  private readonly filters = new Set<string>();
  private readonly pendingRejects = new Set<(err: Error) => void>();
  private retryTimer: NodeJS.Timeout | null = null;
  private attempt = 0;
  private attempts = 0;
  private started = false;
  private stopping = false;
  private connected = false;
  private connectedAt: number | null = null;
  private lastError: string | null = null;
  private readonly safeUrl: string;
  /** MQTT 5 unless the broker refuses it (Aedes, old brokers): then 3.1.1 from then on. */
  private protocolVersion: 4 | 5;

  constructor(private readonly opts: MqttLinkOptions) {
    super();
    this.log = opts.logger ?? silentLogger;
    this.safeUrl = redactUrl(opts.url);
    this.protocolVersion = opts.protocolVersion;
    // Read TLS files now: a missing file is a configuration error to report at start, not a
    // broker outage to retry forever.
    this.tls = {
      ...(opts.caFile ? { ca: readFileSync(opts.caFile) } : {}),
      ...(opts.certFile ? { cert: readFileSync(opts.certFile) } : {}),
      ...(opts.keyFile ? { key: readFileSync(opts.keyFile) } : {}),
    };
  }

  /** Starts connecting in the background. Never throws because the broker is unreachable. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.connect();
  }

  isConnected(): boolean {
    return this.connected;
  }

  status(): LinkStatus {
    return {
      connected: this.connected,
      url: this.safeUrl,
      clientId: this.opts.clientId,
      connectedSince: this.connected && this.connectedAt !== null ? new Date(this.connectedAt).toISOString() : null,
      reconnects: Math.max(0, this.attempts - 1),
      lastError: this.lastError,
      protocolVersion: this.protocolVersion,
    };
  }

  /**
   * Publishes now or rejects: nothing is queued in memory while disconnected. QoS 1/2 resolve on
   * the broker's acknowledgement (which proves only that the broker took it, not the center).
   */
  publish(topic: string, payload: string | Buffer, opts: PublishOptions): Promise<void> {
    const client = this.client;
    if (!client || !this.connected) return Promise.reject(new Error('MQTT link not connected'));
    return new Promise<void>((resolve, reject) => {
      const rejectOnClose = (err: Error) => reject(err);
      this.pendingRejects.add(rejectOnClose);
      client.publish(topic, payload, { qos: opts.qos, retain: opts.retain }, (err) => {
        this.pendingRejects.delete(rejectOnClose);
        if (err) reject(err);
        else resolve();
      });
    });
  }

  /** Subscribes (QoS 1) now if connected and again after every reconnect. */
  subscribe(filter: string): void {
    this.filters.add(filter);
    if (this.client && this.connected) this.client.subscribe(filter, { qos: 1 }, (err) => err && this.onSubError(filter, err));
  }

  /** Publishes the retained offline status (unless told not to), then disconnects cleanly. */
  async stop(opts: { publishOffline?: boolean; timeoutMs?: number } = {}): Promise<void> {
    this.stopping = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const client = this.client;
    if (!client) return;
    const timeoutMs = opts.timeoutMs ?? 3000;
    if (this.connected && (opts.publishOffline ?? true)) {
      await withTimeout(
        this.publish(this.opts.topics.status, JSON.stringify(this.offlinePayload('shutdown')), { qos: 1, retain: true }),
        timeoutMs,
      ).catch((err: Error) => this.log.warn({ err: err.message }, 'mqtt: offline status not confirmed'));
    }
    // A clean DISCONNECT: the broker discards the Last Will. Not connected (broker down, still
    // connecting): nothing to say to anyone, just close the socket.
    if (this.connected) await withTimeout(client.endAsync(false), timeoutMs).catch(() => {});
    this.dropClient(client, 'stopped');
  }

  private offlinePayload(reason: string): object {
    return { v: 1, state: 'offline', reason };
  }

  private connect(): void {
    if (this.stopping) return;
    this.attempts++;
    const o = this.opts;
    const will = JSON.stringify(this.offlinePayload('connection lost'));
    const client = mqtt.connect(o.url, {
      clientId: o.clientId,
      username: o.username,
      password: o.password,
      protocolVersion: this.protocolVersion,
      keepalive: o.keepalive,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: o.connectTimeoutMs ?? 10_000,
      queueQoSZero: false,
      resubscribe: false,
      rejectUnauthorized: o.rejectUnauthorized,
      ...this.tls,
      will: { topic: o.topics.status, payload: Buffer.from(will), qos: 1, retain: true },
      ...(this.protocolVersion === 5 ? { properties: { sessionExpiryInterval: 0 } } : {}),
    });
    this.client = client;
    // Batches and acks are latency-bound request/response traffic: without TCP_NODELAY a small
    // PUBLISH (an ack, a response) can wait for the peer's delayed ACK (~40 ms) under Nagle.
    const sock = client.stream as unknown as { setNoDelay?: (on: boolean) => void };
    if (typeof sock?.setNoDelay === 'function') sock.setNoDelay(true);
    client.on('connect', () => this.onConnect(client));
    client.on('message', (topic, payload) => this.emit('message', topic, payload));
    client.on('error', (err) => {
      this.lastError = err.message;
      // CONNACK "unacceptable protocol version" (3.1.1 code 1, MQTT 5 reason 132): the broker
      // does not speak MQTT 5. The gateway must work with any broker, so it retries with 3.1.1.
      const code = (err as Error & { code?: unknown }).code;
      if (this.protocolVersion === 5 && (code === 1 || code === 132 || /protocol version/i.test(err.message))) {
        this.protocolVersion = 4;
        this.attempt = 0;
        this.log.warn({ url: this.safeUrl }, 'mqtt: broker refused MQTT 5, falling back to MQTT 3.1.1');
        return;
      }
      this.log.warn({ err: err.message, url: this.safeUrl }, 'mqtt: connection error');
    });
    client.on('close', () => this.onClose(client));
  }

  private onConnect(client: MqttClient): void {
    if (client !== this.client) return;
    const first = this.connectedAt === null;
    this.connected = true;
    this.connectedAt = Date.now();
    this.lastError = null;
    this.log.info({ url: this.safeUrl, clientId: this.opts.clientId, first }, 'mqtt: connected');
    const online = { ...this.opts.statusOnline(), v: 1, state: 'online' };
    client.publish(this.opts.topics.status, JSON.stringify(online), { qos: 1, retain: true }, (err) => {
      if (err) this.log.warn({ err: err.message }, 'mqtt: online status not published');
    });
    for (const f of this.filters) client.subscribe(f, { qos: 1 }, (err) => err && this.onSubError(f, err));
    this.emit('connected');
  }

  private onSubError(filter: string, err: Error): void {
    this.lastError = `subscribe ${filter}: ${err.message}`;
    this.log.error({ filter, err: err.message }, 'mqtt: subscribe failed');
  }

  private onClose(client: MqttClient): void {
    if (client !== this.client) return;
    const wasConnected = this.connected;
    const upFor = wasConnected && this.connectedAt !== null ? Date.now() - this.connectedAt : 0;
    this.dropClient(client, 'connection closed');
    if (wasConnected) this.emit('disconnected', this.lastError ?? 'connection closed');
    if (this.stopping) return;
    if (upFor >= STABLE_MS) this.attempt = 0;
    const delay = backoffDelay(this.attempt++, this.opts.reconnectMinMs, this.opts.reconnectMaxMs);
    this.log.info({ delayMs: delay, attempt: this.attempt }, 'mqtt: reconnect scheduled');
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
  }

  /** Forgets a client: rejects what it still had in flight, closes it, stops listening. */
  private dropClient(client: MqttClient, reason: string): void {
    if (client === this.client) {
      this.client = null;
      this.connected = false;
    }
    const err = new Error(`MQTT ${reason}`);
    for (const r of this.pendingRejects) r(err);
    this.pendingRejects.clear();
    client.removeAllListeners('message');
    client.removeAllListeners('connect');
    client.removeAllListeners('close');
    // Keep an error listener: a late socket error must not become an uncaught exception.
    client.removeAllListeners('error');
    client.on('error', () => {});
    client.end(true);
    // end() is a no-op while a clean end is still waiting (e.g. a broker that never PUBACKs):
    // destroying the socket guarantees nothing keeps the process alive or reconnects.
    client.stream?.destroy();
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    p.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e: unknown) => (clearTimeout(t), reject(e instanceof Error ? e : new Error(String(e)))),
    );
  });
}
