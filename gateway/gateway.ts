// The composition root: the only place where drivers/, streams/ and sync/ meet. Start order
// puts durability first (store before anything can produce a punch); stop order is the reverse
// (devices first, so nothing new arrives while the uplink flushes and the DB closes).
import { mkdirSync, statfsSync } from 'node:fs';
import { resolve } from 'node:path';
import type Database from 'better-sqlite3';
import type { Config } from '../config/schema.js';
import type { ClockDriver } from '../drivers/types.js';
import { openDatabase, closeDatabase } from '../sync/store/database.js';
import { Outbox } from '../sync/outbox/outbox.js';
import { PunchStore } from '../sync/store/punch-store.js';
import { EnrollmentStore } from '../sync/store/enrollment-store.js';
import { makeTopics } from '../sync/mqtt/topics.js';
import { MqttLink } from '../sync/mqtt/link.js';
import { Uplink } from '../sync/uplink/uplink.js';
import { RequestRouter } from '../sync/requests/request-router.js';
import { registerSyncRequests } from '../sync/requests/sync-requests.js';
import { STREAMS, type StreamName } from '../sync/types.js';
import { PunchTimeCorrector } from '../sync/store/punch-time-correction.js';
import { createClockDriver, type DriverContext } from './clock-drivers.js';
import { createPunchIntake } from './punch-intake.js';
import { registerEnrollmentRequests } from './enrollment-requests.js';
import { createTimeFacts, type TimeFacts } from './time-facts.js';
import { startClockSyncCorrection } from './clock-sync-correction.js';
import { EventPublisher } from './event-publisher.js';
import { GatewayMetrics } from './metrics.js';
import { createApiApp, type HttpBackend, type PunchQuery } from './http/api-app.js';
import { startHttp, type RunningHttp } from './http/http-server.js';
import { createSystemdNotifier } from './systemd-notify.js';
import { VERSION } from './version.js';
import type { Logger } from './logger.js';
import type { CameraWiring } from './camera-wiring.js';

/** How long a clock may stay silent after start before it is reported offline. */
const CLOCK_OFFLINE_GRACE_MS = 15_000;

export interface GatewayOptions {
  logger: Logger;
  configHash?: string;
  time?: TimeFacts;
  /** Clock for stamping punches (tests). */
  now?: () => Date;
  /** Opens HID wedge readers (tests feed recorded reports); default node-hid. */
  hidOpen?: DriverContext['hidOpen'];
}

export class Gateway {
  readonly startedAt = new Date().toISOString();
  private readonly log: Logger;
  private readonly time: TimeFacts;
  private db?: Database.Database;
  private outbox?: Outbox;
  private punchStore?: PunchStore;
  private enrollments?: EnrollmentStore;
  private link?: MqttLink;
  private readonly uplinks = new Map<StreamName, Uplink>();
  private router?: RequestRouter;
  private events?: EventPublisher;
  private metrics?: GatewayMetrics;
  private http?: RunningHttp;
  private cameras?: CameraWiring;
  private readonly clocks: ClockDriver[] = [];
  private pruneTimer?: NodeJS.Timeout;
  private stopCorrection?: () => void;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly notifier = createSystemdNotifier();
  private stopping?: Promise<void>;

  constructor(
    readonly config: Config,
    private readonly opts: GatewayOptions,
  ) {
    this.log = opts.logger;
    this.time = opts.time ?? createTimeFacts(config.gateway.timeSync);
  }

  get httpAddress(): { host: string; port: number } | undefined {
    return this.http && { host: this.http.host, port: this.http.port };
  }

  async start(): Promise<void> {
    const cfg = this.config;
    const gid = cfg.gateway.id;
    // 0. The link to the center is built (not started) first: it reads the TLS files, which the
    // schema cannot check, so a bad one is refused before the data directory is touched
    // (TlsConfigError, exit 2).
    const m = cfg.center.mqtt;
    const topics = makeTopics(m.topicPrefix, gid);
    this.link = new MqttLink({
      url: m.url,
      username: m.username,
      password: m.password,
      clientId: m.clientId ?? `tpgw-${gid}`,
      caFile: m.ca,
      certFile: m.cert,
      keyFile: m.key,
      keyPassphrase: m.keyPassphrase,
      rejectUnauthorized: m.rejectUnauthorized,
      keepalive: m.keepalive,
      protocolVersion: m.protocolVersion,
      reconnectMinMs: m.reconnectMinMs,
      reconnectMaxMs: m.reconnectMaxMs,
      topics,
      statusOnline: () => ({ version: VERSION, startedAt: this.startedAt, gateway: gid, name: cfg.gateway.name }),
      logger: this.log.child({ part: 'mqtt' }),
    });
    const dataDir = resolve(cfg.gateway.dataDir);
    mkdirSync(dataDir, { recursive: true });

    // 1. The store: nothing may produce a punch before it is open.
    this.db = openDatabase(resolve(dataDir, 'tpgw.db'));
    this.outbox = new Outbox(this.db);
    this.punchStore = new PunchStore(this.db, gid, this.outbox);
    this.enrollments = new EnrollmentStore(this.db);
    this.log.info({ dataDir, lastSeq: this.punchStore.lastSeq() }, 'store open');

    // 2. The uplink of each outbox stream, then the link starts.
    this.events = new EventPublisher(this.link, topics.event, this.log.child({ part: 'events' }));
    for (const stream of STREAMS) {
      this.uplinks.set(
        stream,
        new Uplink({
          stream,
          outbox: this.outbox,
          link: this.link,
          topics,
          batchMax: cfg.sync.batchMax,
          lingerMs: cfg.sync.lingerMs,
          maxInflightBatches: cfg.sync.maxInflightBatches,
          ackTimeoutMs: cfg.center.ackTimeoutSeconds * 1000,
          logger: this.log.child({ part: 'uplink', stream }),
        }),
      );
    }
    this.router = new RequestRouter(this.link, topics, this.log.child({ part: 'requests' }));
    registerSyncRequests(this.router, { outbox: this.outbox, uplinks: Object.fromEntries(this.uplinks) });
    this.router.register('ping', () => ({ pong: true, time: new Date().toISOString(), version: VERSION }));
    registerEnrollmentRequests(this.router, this.enrollments, { knownClocks: () => cfg.clocks.map((c) => c.id) });
    this.router.register('info', () => this.info());
    this.link.on('connected', () => {
      this.events?.flush();
      void this.link!.publish(topics.info, JSON.stringify({ v: 1, ...this.info() }), { qos: 1, retain: true }).catch(() => {});
    });
    this.link.start();
    for (const u of this.uplinks.values()) u.start();

    // 3. Metrics and HTTP.
    this.metrics = new GatewayMetrics({
      pending: (s) => {
        const st = this.outbox!.stats(s);
        return st.pending + st.inflight;
      },
      oldestPendingAgeSeconds: (s) => this.outbox!.stats(s).oldestPendingAgeSeconds,
      mqttConnected: () => this.link!.isConnected(),
      clocks: () => this.clocks.map((c) => c.status()),
    });
    this.http = await startHttp(createApiApp(this.httpBackend(), cfg.http.token), cfg.http.listen);
    this.log.info({ listen: `${this.http.host}:${this.http.port}` }, 'http listening');

    // 4. Cameras (recording metadata goes through the same outbox as attendance).
    if (cfg.cameras.length) {
      // The camera stack (ONVIF, ffmpeg supervision) is loaded only on boxes with cameras.
      const { CameraWiring } = await import('./camera-wiring.js');
      this.cameras = new CameraWiring({
        config: cfg,
        db: this.db,
        outbox: this.outbox,
        gatewayId: gid,
        notifyUplink: () => this.uplinks.get('recordings')!.notify(),
        publish: (topic, payload, opts) => this.link!.publish(topic, payload, opts),
        isConnected: () => this.link!.isConnected(),
        topics,
        events: this.events,
        router: this.router,
        logger: this.log.child({ part: 'cameras' }),
      });
      await this.cameras.start();
    }

    // 5. Clocks last: from here on punches arrive.
    const sink = createPunchIntake({
      punches: this.punchStore,
      enrollments: this.enrollments,
      time: this.time,
      now: this.opts.now,
      onStored: (p) => {
        this.metrics!.punches.inc({ clock: p.clock });
        this.uplinks.get('attendance')!.notify();
      },
      onDuplicate: (p) => this.metrics!.duplicates.inc({ clock: p.clock }),
    });
    const guardedSink: typeof sink = (p) => {
      try {
        return sink(p);
      } catch (err) {
        this.metrics!.storeErrors.inc({ clock: p.clock });
        this.log.error({ err: (err as Error).message, clock: p.clock }, 'punch NOT stored');
        throw err; // the driver must not answer the device as if the punch were kept
      }
    };
    for (const cc of cfg.clocks.filter((c) => c.enabled)) {
      const driver = await createClockDriver(cc, guardedSink, {
        logger: this.log,
        isClockSynced: () => this.time.clockSynced(),
        isSettled: (keys) => this.punchStore!.allSettled(keys),
        hidOpen: this.opts.hidOpen,
      });
      let announced: boolean | null = null;
      const announce = (connected: boolean, reason?: string) => {
        if (announced === connected) return;
        announced = connected;
        this.events!.emit({
          type: connected ? 'clock-online' : 'clock-offline',
          clock: cc.id,
          message: connected ? `clock ${cc.id} connected` : `clock ${cc.id} disconnected${reason ? `: ${reason}` : ''}`,
        });
      };
      driver.on('connection', (connected, reason) => announce(connected, reason));
      // Some drivers only speak up once they connect: a clock still silent after the grace
      // period is reported offline, so a box installed with an unplugged clock raises an alarm.
      const grace = setTimeout(() => {
        if (announced === null && !driver.status().connected) announce(false, 'not connected since start');
      }, CLOCK_OFFLINE_GRACE_MS);
      grace.unref();
      this.timers.push(grace);
      driver.on('notice', (kind, detail) => this.log.warn({ clock: cc.id, kind, ...detail }, `clock notice: ${kind}`));
      this.clocks.push(driver);
      await driver.start();
    }
    if (!this.time.clockSynced()) {
      this.events.emit({ type: 'clock-unsynced', message: 'system clock is not synchronised: punches are flagged clockSynced=false' });
    }
    // Punch times taken before the clock synchronised are re-dated once it has (now, or later).
    this.stopCorrection = startClockSyncCorrection({
      time: this.time,
      corrector: new PunchTimeCorrector(this.db, gid, this.outbox),
      notify: (stream) => this.uplinks.get(stream)?.notify(),
      events: this.events,
      log: this.log.child({ part: 'time' }),
    });

    // Settled rows are kept keepSettledDays for local audit, then pruned; pending never.
    const prune = () => {
      try {
        const n = this.outbox!.prune(new Date(), cfg.sync.keepSettledDays);
        if (n) this.log.info({ pruned: n }, 'pruned settled records');
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'prune failed');
      }
    };
    prune();
    this.pruneTimer = setInterval(prune, 3600_000);
    this.pruneTimer.unref();

    this.notifier.ready(`clocks=${this.clocks.length} cameras=${cfg.cameras.length}`);
    this.log.info({ gateway: gid, version: VERSION, clocks: this.clocks.length, cameras: cfg.cameras.length }, 'gateway started');
  }

  /** Devices first, then cameras, flush the uplink, offline status, close the DB. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.notifier.stopping();
      this.log.info('stopping');
      if (this.pruneTimer) clearInterval(this.pruneTimer);
      this.stopCorrection?.();
      for (const t of this.timers) clearTimeout(t);
      await Promise.allSettled(this.clocks.map((c) => c.stop()));
      if (this.cameras) await this.cameras.stop().catch((err: Error) => this.log.error({ err: err.message }, 'camera stop failed'));
      await Promise.allSettled([...this.uplinks.values()].map((u) => u.stop()));
      if (this.link) await this.link.stop({ publishOffline: true }).catch(() => {});
      if (this.http) await this.http.close();
      if (this.db) closeDatabase(this.db);
      this.time.stop();
      this.notifier.stop();
      this.log.info('stopped');
    })();
    return this.stopping;
  }

  info(): Record<string, unknown> {
    const cfg = this.config;
    let disk: Record<string, number> | null = null;
    try {
      const s = statfsSync(resolve(cfg.gateway.dataDir));
      disk = { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
    } catch {
      disk = null;
    }
    return {
      gateway: cfg.gateway.id,
      name: cfg.gateway.name ?? null,
      version: VERSION,
      startedAt: this.startedAt,
      configHash: this.opts.configHash ?? null,
      clockSynced: this.time.clockSynced(),
      bootId: this.time.bootId(),
      clocks: this.clocks.map((c) => c.status()),
      cameras: this.cameras?.status() ?? [],
      ffmpeg: this.cameras?.ffmpegInfo() ?? null,
      disk,
    };
  }

  status(): Record<string, unknown> {
    return {
      ...this.info(),
      mqtt: this.link?.status(),
      sync: Object.fromEntries(STREAMS.map((s) => [s, this.outbox?.stats(s)])),
      events: this.events?.recent.slice(-10) ?? [],
    };
  }

  private httpBackend(): HttpBackend {
    return {
      health: () => {
        const ok = !!this.db?.open;
        return { ok, detail: { store: ok ? 'open' : 'closed', mqtt: this.link?.isConnected() ? 'connected' : 'disconnected' } };
      },
      status: () => this.status(),
      punches: (q: PunchQuery) => this.punchStore!.list(q),
      metrics: () => this.metrics!.render(),
    };
  }

  /** For demo mode and tests: the durable punch count. */
  punchCount(): number {
    return this.punchStore?.count() ?? 0;
  }
}
