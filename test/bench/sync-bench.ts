// Sync benchmarks, each beside the raw limit measured in the same run (never absolute targets):
//  (a) durable ingest: PunchStore.append (dedupe check + counter + punch + outbox row, one
//      synchronous=FULL commit each) vs raw better-sqlite3 single-row insert commits, same settings;
//  (b) backlog drain: 100,000 pending punches through Uplink to a spawned broker, a center
//      subscriber acking every batch, until all are settled in SQLite; vs raw mqtt.js QoS 1
//      publishing the very same batch payload bytes to the same subscriber (until all PUBACKs).
// Run alone: `npx tsx test/bench/sync-bench.ts` (npm run bench runs it through test/bench/run.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import mqtt from 'mqtt';
import { startBroker } from '../helpers/broker.js';
import { openDatabase, closeDatabase } from '../../sync/store/database.js';
import { PunchStore } from '../../sync/store/punch-store.js';
import { Outbox } from '../../sync/outbox/outbox.js';
import { MqttLink } from '../../sync/mqtt/link.js';
import { makeTopics } from '../../sync/mqtt/topics.js';
import { Uplink } from '../../sync/uplink/uplink.js';
import type { NewPunch } from '../../sync/types.js';

export interface SyncBenchOptions {
  /** Wall time for each ingest run (ms). */
  ingestMs?: number;
  /** Backlog size for the drain run. */
  drainRecords?: number;
  batchMax?: number;
  maxInflightBatches?: number;
}

function benchPunch(i: number): NewPunch {
  const time = new Date(Date.UTC(2026, 11, 4, 8) + i * 1000).toISOString().replace('Z', '+00:00');
  const user = String(1000 + (i % 400));
  return {
    clock: `clock-${i % 4}`, user, verify: 'fingerprint', time, receivedAt: time, clockSynced: true,
    monoNs: 5_000_000_000n + BigInt(i) * 1_000_000n, bootId: '3b9f0c7e-5a61-4f0e-9c55-2f1d1f0a7b11', raw: `${user},${time},1`,
  };
}

const rate = (n: number, ms: number) => Math.round((n * 1000) / Math.max(ms, 1e-3));

function ingest(dir: string, ms: number): Record<string, number> {
  // Raw limit: the cheapest durable commit of one row with the same journal settings.
  const raw = new BetterSqlite3(join(dir, 'raw.db'));
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = FULL');
  raw.exec('CREATE TABLE t (seq INTEGER PRIMARY KEY, clock TEXT, user TEXT, time TEXT, raw TEXT)');
  const ins = raw.prepare('INSERT INTO t (clock, user, time, raw) VALUES (?, ?, ?, ?)');
  let rawN = 0;
  let t0 = performance.now();
  while (performance.now() - t0 < ms) {
    const p = benchPunch(rawN++);
    ins.run(p.clock, p.user, p.time, p.raw);
  }
  const rawMs = performance.now() - t0;
  raw.close();

  const db = openDatabase(join(dir, 'ingest.db'));
  const store = new PunchStore(db, 'BENCH', new Outbox(db));
  let n = 0;
  t0 = performance.now();
  while (performance.now() - t0 < ms) store.append(benchPunch(n++));
  const storeMs = performance.now() - t0;
  closeDatabase(db);
  const ingestRate = rate(n, storeMs);
  const rawRate = rate(rawN, rawMs);
  return { ingestPunchesPerSec: ingestRate, rawSqliteCommitsPerSec: rawRate, ingestRatio: Number((ingestRate / rawRate).toFixed(3)) };
}

async function drain(dir: string, records: number, batchMax: number, maxInflightBatches: number): Promise<Record<string, number | string>> {
  const broker = await startBroker();
  const topics = makeTopics('tpgw', 'BENCH');
  const db = openDatabase(join(dir, 'drain.db'));
  const outbox = new Outbox(db);
  const store = new PunchStore(db, 'BENCH', outbox);
  db.transaction(() => {
    for (let i = 0; i < records; i++) store.append(benchPunch(i));
  })();
  // The backlog built up over time in reality, with checkpoints along the way: fold the WAL of
  // this bulk fill into the file now so its checkpoint is not billed to the drain.
  db.pragma('wal_checkpoint(TRUNCATE)');

  // The center: receives batches, acks each one by id (cheap id extraction: same work in both runs).
  const center = await mqtt.connectAsync(broker.url, { clientId: 'bench-center' });
  const captured: Buffer[] = [];
  let acking = true;
  let received = 0;
  center.on('message', (_topic, payload) => {
    received++;
    if (!acking) return;
    captured.push(payload);
    const m = /^\{"v":1,"batch":("[^"]+")/.exec(payload.subarray(0, 300).toString());
    if (m) center.publish(topics.ack('attendance'), `{"v":1,"batch":${m[1]}}`, { qos: 1 });
  });
  await center.subscribeAsync(topics.stream('attendance'), { qos: 1 });

  const link = new MqttLink({
    url: broker.url, clientId: 'tpgw-BENCH', rejectUnauthorized: true, keepalive: 30, protocolVersion: 5,
    reconnectMinMs: 100, reconnectMaxMs: 1000, topics, statusOnline: () => ({ version: 'bench', startedAt: new Date().toISOString() }),
  });
  const connected = new Promise<void>((r) => link.once('connected', () => r()));
  link.start();
  await connected;
  const uplink = new Uplink({ stream: 'attendance', outbox, link, topics, batchMax, lingerMs: 20, maxInflightBatches, ackTimeoutMs: 60_000 });
  const sentAt = new Map<string, number>();
  const lat: number[] = [];
  if (process.env.BENCH_DEBUG) {
    uplink.on('sent', (b) => sentAt.set(b, performance.now()));
    uplink.on('settled', (b) => lat.push(performance.now() - (sentAt.get(b) ?? 0)));
  }
  let settled = 0;
  const done = new Promise<void>((resolve) =>
    uplink.on('settled', (_b, n) => {
      settled += n;
      if (settled >= records) resolve();
    }),
  );
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  uplink.start();
  await done;
  const drainMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  if (process.env.BENCH_DEBUG) {
    lat.sort((a, b) => a - b);
    console.error({ drainMs, cpuUserMs: cpu.user / 1000, cpuSysMs: cpu.system / 1000, ackLatencyMs: { p50: lat[lat.length >> 1], p90: lat[Math.floor(lat.length * 0.9)], max: lat.at(-1) } });
  }
  const pendingLeft = outbox.stats('attendance').pending + outbox.stats('attendance').inflight;
  await uplink.stop();
  await link.stop();
  closeDatabase(db);

  // Raw: the same payload bytes, QoS 1, one client, no application acks or SQLite.
  acking = false;
  const bytes = captured.reduce((s, b) => s + b.length, 0);
  const raw = await mqtt.connectAsync(broker.url, { clientId: 'bench-raw' });
  const before = received;
  const t1 = performance.now();
  await Promise.all(captured.map((p) => raw.publishAsync(topics.stream('attendance'), p, { qos: 1 })));
  const rawMs = performance.now() - t1;
  const deadline = Date.now() + 30_000;
  while (received - before < captured.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  await raw.endAsync();
  await center.endAsync();
  await broker.stop();

  const drainRate = rate(records, drainMs);
  const rawRate = rate(records, rawMs);
  return {
    drainBroker: broker.kind,
    drainRecords: records,
    drainBatches: captured.length,
    drainBytes: bytes,
    drainPendingLeft: pendingLeft,
    drainRecordsPerSec: drainRate,
    rawMqttQos1RecordsPerSec: rawRate,
    drainRatio: Number((drainRate / rawRate).toFixed(3)),
  };
}

export async function benchSync(opts: SyncBenchOptions = {}): Promise<Record<string, number | string>> {
  const dir = mkdtempSync(join(tmpdir(), 'tpgw-bench-sync-'));
  try {
    const a = ingest(dir, opts.ingestMs ?? 2000);
    const b = await drain(dir, opts.drainRecords ?? 100_000, opts.batchMax ?? 500, opts.maxInflightBatches ?? 8);
    return { ...a, ...b };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  benchSync().then(
    (r) => console.log(JSON.stringify(r, null, 2)),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
