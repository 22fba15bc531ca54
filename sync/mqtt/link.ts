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
// - TLS files (center.mqtt.ca/cert/key) are read and checked once, in the constructor: a missing,
//   unreadable or wrong file is a configuration error (TlsConfigError, naming the key) to report
//   at start, not a broker outage to retry forever. Node would otherwise throw an OpenSSL error
//   naming no key from inside mqtt.connect, or (a CA file with no certificate) silently trust
//   nothing. A key is only ever named by its path; PEM text is never echoed.
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import type { IClientOptions, MqttClient } from 'mqtt';
import { createMqttClient } from './client-factory.js';
import type { LinkStatus } from '../types.js';
import { silentLogger, type SyncLogger } from '../logger.js';
import { backoffDelay } from './backoff.js';
import type { Topics } from './topics.js';

export interface MqttLinkOptions {
  url: string;
  username?: string;
  password?: string;
  clientId: string;
  /**
   * PEM file paths (center.mqtt.ca/cert/key), used by mqtts:// and wss:// URLs. `caFile`
   * replaces the system CAs (it may hold several certificates); `certFile` + `keyFile` (set
   * together) are the client certificate for mutual TLS; `keyPassphrase` decrypts an encrypted
   * key (center.mqtt.keyPassphrase).
   */
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  keyPassphrase?: string;
  /** false accepts any server certificate (testing only): TLS then encrypts but proves nothing. */
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
    this.tls = loadTlsFiles(opts);
    if (Object.keys(this.tls).length > 0 && !/^(mqtts|ssl|wss):/i.test(opts.url)) {
      this.log.warn({ url: this.safeUrl }, 'mqtt: center.mqtt.ca/cert/key are set but the URL is not mqtts:// or wss://: the connection is NOT encrypted');
    }
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
    const client = createMqttClient(o.url, {
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
      // mqtt-packet's default pre-builds a 2-byte Buffer for each of the 65536 packet ids on the
      // first packet written: ~7 MB of heap kept for life to spare a 2-byte allocation per packet.
      writeCache: false,
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
    let lastSeen: Error | null = null;
    client.on('error', (err) => {
      // mqtt.js can report one failure twice (for wss://, its TLS wrapper and its stream handler): log it once.
      if (err === lastSeen) return;
      lastSeen = err;
      this.lastError = describeError(err);
      // CONNACK "unacceptable protocol version" (3.1.1 code 1, MQTT 5 reason 132): the broker
      // does not speak MQTT 5. The gateway must work with any broker, so it retries with 3.1.1.
      const code = (err as Error & { code?: unknown }).code;
      if (this.protocolVersion === 5 && (code === 1 || code === 132 || /protocol version/i.test(err.message))) {
        this.protocolVersion = 4;
        this.attempt = 0;
        this.log.warn({ url: this.safeUrl }, 'mqtt: broker refused MQTT 5, falling back to MQTT 3.1.1');
        return;
      }
      this.log.warn({ err: this.lastError, url: this.safeUrl }, 'mqtt: connection error');
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

/** A TLS file option that cannot be used; `key` is the config key (`center.mqtt.ca`, ...). */
export class TlsConfigError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`${key}: ${message}`);
    this.name = 'TlsConfigError';
  }
}

const CONFIG_KEY = { caFile: 'center.mqtt.ca', certFile: 'center.mqtt.cert', keyFile: 'center.mqtt.key', keyPassphrase: 'center.mqtt.keyPassphrase' } as const;
const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Reads and checks the TLS files; throws TlsConfigError naming the config key. */
export function loadTlsFiles(opts: Pick<MqttLinkOptions, 'caFile' | 'certFile' | 'keyFile' | 'keyPassphrase'>): { ca?: Buffer; cert?: Buffer; key?: Buffer } {
  if (Boolean(opts.certFile) !== Boolean(opts.keyFile)) {
    const [set, missing] = opts.certFile ? ['cert', 'key'] : ['key', 'cert'];
    throw new TlsConfigError(`center.mqtt.${missing}`, `required when center.mqtt.${set} is set (a client certificate needs its private key)`);
  }
  const out: { ca?: Buffer; cert?: Buffer; key?: Buffer } = {};
  if (opts.caFile) {
    out.ca = readTlsFile('caFile', opts.caFile);
    certificates('caFile', opts.caFile, out.ca);
  }
  if (opts.certFile && opts.keyFile) {
    out.cert = readTlsFile('certFile', opts.certFile);
    const [leaf] = certificates('certFile', opts.certFile, out.cert);
    const pem = readTlsFile('keyFile', opts.keyFile);
    const key = privateKey(opts.keyFile, pem, opts.keyPassphrase);
    if (!leaf.checkPrivateKey(key)) {
      throw new TlsConfigError(CONFIG_KEY.keyFile, `${opts.keyFile} is not the private key of the certificate in ${opts.certFile}`);
    }
    // An encrypted key is handed to TLS decrypted, so the passphrase is not needed again.
    out.key = opts.keyPassphrase === undefined ? pem : Buffer.from(key.export({ type: 'pkcs8', format: 'pem' }));
  }
  return out;
}

/** The private key in a PEM file, decrypted with `passphrase` when it is encrypted. */
function privateKey(path: string, pem: Buffer, passphrase: string | undefined): KeyObject {
  // PKCS#8 ("BEGIN ENCRYPTED PRIVATE KEY") and traditional ("Proc-Type: 4,ENCRYPTED") both say so.
  const encrypted = /ENCRYPTED/.test(pem.toString('latin1'));
  if (encrypted && passphrase === undefined) {
    throw new TlsConfigError(CONFIG_KEY.keyPassphrase, `required: ${path} is an encrypted private key`);
  }
  try {
    return createPrivateKey(passphrase === undefined ? pem : { key: pem, passphrase });
  } catch {
    // The reason from OpenSSL ("unsupported", "bad decrypt") helps nobody; what is wanted is.
    if (encrypted) throw new TlsConfigError(CONFIG_KEY.keyPassphrase, `does not decrypt ${path}`);
    throw new TlsConfigError(CONFIG_KEY.keyFile, `${path} is not a PEM private key`);
  }
}

function readTlsFile(opt: 'caFile' | 'certFile' | 'keyFile', path: string): Buffer {
  if (path.includes('-----BEGIN')) {
    // PEM pasted where a path belongs: saying so must not echo it (it may be a private key).
    throw new TlsConfigError(CONFIG_KEY[opt], 'must be the path of a PEM file, not PEM text');
  }
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    const why: Record<string, string> = { ENOENT: 'no such file', EACCES: 'permission denied', EISDIR: 'is a directory' };
    throw new TlsConfigError(CONFIG_KEY[opt], `cannot read ${path} (${code}${why[code] ? `: ${why[code]}` : ''})`);
  }
}

/** The PEM certificates in a file (at least one, each parsable). */
function certificates(opt: 'caFile' | 'certFile', path: string, pem: Buffer): X509Certificate[] {
  const blocks = pem.toString('latin1').match(PEM_CERT) ?? [];
  if (blocks.length === 0) throw new TlsConfigError(CONFIG_KEY[opt], `${path} holds no PEM certificate`);
  return blocks.map((b) => {
    try {
      return new X509Certificate(b);
    } catch {
      throw new TlsConfigError(CONFIG_KEY[opt], `${path} holds a certificate that cannot be parsed`);
    }
  });
}

/**
 * One line for status and logs. OpenSSL errors arrive as "80EC...:error:0A00045C:SSL
 * routines:ssl3_read_bytes:tlsv13 alert certificate required:../deps/...:1601:SSL alert number
 * 116\n"; the reason ("tlsv13 alert certificate required") is what an installer can act on.
 * Certificate verification errors keep Node's message and add its code.
 */
function describeError(err: Error): string {
  const e = err as Error & { code?: unknown; reason?: unknown };
  const code = typeof e.code === 'string' ? e.code : undefined;
  if (typeof e.reason === 'string' && e.reason) return `TLS: ${e.reason}${code ? ` (${code})` : ''}`;
  const msg = err.message.trim();
  return code && !msg.includes(code) ? `${msg} (${code})` : msg;
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
