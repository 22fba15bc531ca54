// Sync benchmarks, each beside the raw limit measured in the same run (never absolute targets):
//  (a) durable ingest: PunchStore.append (dedupe check + counter + punch + outbox row, one
//      synchronous=FULL commit each) vs raw better-sqlite3 single-row insert commits, same settings;
//  (b) backlog drain: 100,000 pending punches through Uplink to a spawned broker, a center
//      subscriber acking every batch, until all are settled in SQLite; vs raw mqtt.js QoS 1
//      publishing the very same batch payload bytes to the same subscriber (until all PUBACKs).
//      The drain runs in its own process with the production node flags (drain-gateway.ts);
//      the raw client runs here, on Node's defaults: the baseline is not handicapped by them.
// Run alone: `npx tsx test/bench/sync-bench.ts` (npm run bench runs it through test/bench/run.ts).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import mqtt from 'mqtt';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { freePort } from '../helpers/free-port.js';
import { which } from '../helpers/which.js';
import { openDatabase, closeDatabase } from '../../sync/store/database.js';
import { PunchStore } from '../../sync/store/punch-store.js';
import { Outbox } from '../../sync/outbox/outbox.js';
import { makeTopics } from '../../sync/mqtt/topics.js';
import { configSchema } from '../../config/schema.js';
import { NODE_FLAGS } from '../../gateway/launch.js';
import { benchPunch, readMessages, type DrainRun } from './drain-gateway.js';

export interface SyncBenchOptions {
  /** Wall time for each ingest run (ms). */
  ingestMs?: number;
  /** Backlog size for the drain run. */
  drainRecords?: number;
  batchMax?: number;
  maxInflightBatches?: number;
  /** Drain/raw pairs per broker setting (the median ratio is reported). */
  pairs?: number;
}

/**
 * Mosquitto with the stock socket setting or with `set_tcp_nodelay true`. Stock Mosquitto leaves
 * Nagle on: a small ack PUBLISH to the gateway then waits for the gateway's delayed TCP ACK
 * (~40 ms), which bounds any ack-per-batch protocol at maxInflightBatches per ~45 ms.
 */
async function startMosquitto(dir: string, tcpNoDelay: boolean): Promise<TestBroker> {
  const bin = which('mosquitto');
  if (!bin) return startBroker();
  const port = await freePort();
  const conf = join(dir, `mosquitto-${tcpNoDelay ? 'nodelay' : 'stock'}.conf`);
  const lines = [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'max_queued_messages 1000000', 'max_inflight_messages 0'];
  if (tcpNoDelay) lines.push('set_tcp_nodelay true');
  writeFileSync(conf, lines.join('\n') + '\n');
  const child = spawn(bin, ['-c', conf], { stdio: ['ignore', 'ignore', 'ignore'] });
  for (let i = 0; ; i++) {
    const ok = await new Promise<boolean>((r) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), r(true)));
      s.once('error', () => r(false));
    });
    if (ok) break;
    if (i > 200) throw new Error('mosquitto did not start');
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    kind: 'mosquitto',
    port,
    url: `mqtt://127.0.0.1:${port}`,
    stop: () => new Promise<void>((r) => (child.exitCode !== null ? r() : (child.once('exit', () => r()), child.kill('SIGTERM')))),
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
  const db = openDatabase(join(dir, 'ingest.db'));
  const store = new PunchStore(db, 'BENCH', new Outbox(db));
  // fsync speed on a shared disk drifts by 10x within seconds: alternate short rounds so both
  // sides see the same disk, and compare the totals.
  const rounds = 10;
  let rawN = 0, rawMs = 0, n = 0, storeMs = 0;
  for (let r = 0; r < rounds; r++) {
    let t0 = performance.now();
    while (performance.now() - t0 < ms / rounds) {
      const p = benchPunch(rawN++);
      ins.run(p.clock, p.user, p.time, p.raw);
    }
    rawMs += performance.now() - t0;
    t0 = performance.now();
    while (performance.now() - t0 < ms / rounds) store.append(benchPunch(n++));
    storeMs += performance.now() - t0;
  }
  raw.close();
  closeDatabase(db);
  const ingestRate = rate(n, storeMs);
  const rawRate = rate(rawN, rawMs);
  return { ingestPunchesPerSec: ingestRate, rawSqliteCommitsPerSec: rawRate, ingestRatio: Number((ingestRate / rawRate).toFixed(3)) };
}

// The center runs in its own process (as it would on its own machine), so its receive work is
// not billed to the gateway's event loop. It acks every batch when told to, and reports when it
// has received a given number of messages. Protocol on stdin/stdout, one command per line.
const CENTER_SRC = `
import mqtt from 'mqtt';
import { createInterface } from 'node:readline';
const [url, dataTopic, ackTopic] = process.argv.slice(1);
const c = await mqtt.connectAsync(url, { clientId: 'bench-center-' + process.pid });
c.stream.setNoDelay(true);
let acking = true, received = 0, expect = -1;
c.on('message', (_t, p) => {
  received++;
  if (acking) {
    const m = /^\\{"v":1,"batch":("[^"]+")/.exec(p.subarray(0, 300).toString());
    if (m) c.publish(ackTopic, '{"v":1,"batch":' + m[1] + '}', { qos: 1 });
  }
  if (received === expect) process.stdout.write('got ' + received + '\\n');
});
await c.subscribeAsync(dataTopic, { qos: 1 });
process.stdout.write('ready\\n');
for await (const line of createInterface({ input: process.stdin })) {
  const [cmd, arg] = line.split(' ');
  if (cmd === 'ack') acking = arg === 'on';
  if (cmd === 'expect') { expect = received + Number(arg); if (Number(arg) === 0) process.stdout.write('got 0\\n'); }
  if (cmd === 'quit') { await c.endAsync(); process.exit(0); }
}
`;

/** A helper process spoken to one command per line on stdin, answering one line per reply. */
interface LineProcess {
  send(cmd: string): void;
  waitLine(prefix: string): Promise<string>;
  stop(): Promise<void>;
}

async function startLineProcess(args: string[], name: string): Promise<LineProcess> {
  const child = spawn(process.execPath, args, { cwd: process.cwd(), stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const waiters: { prefix: string; resolve: (l: string) => void }[] = [];
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const w = waiters.findIndex((x) => line.startsWith(x.prefix));
      if (w >= 0) waiters.splice(w, 1)[0].resolve(line);
      else lines.push(line);
    }
  });
  const proc: LineProcess = {
    send: (cmd) => child.stdin!.write(`${cmd}\n`),
    waitLine: (prefix) =>
      new Promise((resolve, reject) => {
        const i = lines.findIndex((l) => l.startsWith(prefix));
        if (i >= 0) return resolve(lines.splice(i, 1)[0]);
        const t = setTimeout(() => reject(new Error(`${name}: no "${prefix}"`)), 120_000);
        waiters.push({ prefix, resolve: (l) => (clearTimeout(t), resolve(l)) });
      }),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        proc.send('quit');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
  child.once('exit', (code) => {
    for (const w of waiters.splice(0)) w.resolve(`exited ${code}`);
  });
  const ready = await proc.waitLine('ready');
  if (ready !== 'ready') throw new Error(`${name} did not start (${ready})`);
  return proc;
}

const startCenterProcess = (url: string, dataTopic: string, ackTopic: string) =>
  startLineProcess(['--input-type=module', '-e', CENTER_SRC, url, dataTopic, ackTopic], 'bench center');

/** The drain side, on the node flags the systemd unit runs the gateway with. */
function startDrainGateway(dbFile: string, url: string, records: number, batchMax: number, inflight: number): Promise<LineProcess> {
  // Compiled (npm run bench) the sibling is .js; run through tsx it is .ts and needs tsx too.
  const script = fileURLToPath(import.meta.url).endsWith('.ts')
    ? ['--import=tsx', fileURLToPath(new URL('./drain-gateway.ts', import.meta.url))]
    : [fileURLToPath(new URL('./drain-gateway.js', import.meta.url))];
  return startLineProcess([...NODE_FLAGS, ...script, dbFile, url, String(records), String(batchMax), String(inflight)], 'drain gateway');
}

interface DrainResult {
  /** Median over the pairs (each drain is paired with a raw run right after it). */
  drainMs: number;
  /** Gateway-process CPU during the median drain (includes the MQTT client, excludes broker and center). */
  cpuMs: number;
  rawPubackMs: number;
  rawDeliveredMs: number;
  /** Median of the per-pair ratios raw publish time / drain time, and their range. */
  ratio: number;
  ratioMin: number;
  ratioMax: number;
  bytes: number;
  batches: number;
  pendingLeft: number;
  broker: string;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * Drains the same 100k backlog `pairs` times; right after each drain, a raw mqtt.js client
 * publishes the very bytes of that backlog to the same broker and center. A shared 2-core box
 * drifts by 2x within seconds, so each drain is compared with the raw run next to it, and the
 * median of those ratios is the figure (the spread is printed beside it).
 */
async function drain(dir: string, records: number, batchMax: number, maxInflightBatches: number, tcpNoDelay: boolean, pairs: number): Promise<DrainResult> {
  const broker = await startMosquitto(dir, tcpNoDelay);
  const topics = makeTopics('tpgw', 'BENCH');
  const center = await startCenterProcess(broker.url, topics.stream('attendance'), topics.ack('attendance'));
  const gateway = await startDrainGateway(join(dir, `drain-${tcpNoDelay}.db`), broker.url, records, batchMax, maxInflightBatches);

  const runs: { drainMs: number; cpuMs: number; rawPubackMs: number; rawDeliveredMs: number }[] = [];
  let messages: Buffer[] = [];
  let pendingLeft = 0;
  for (let pair = 0; pair < pairs; pair++) {
    center.send('ack on');
    gateway.send('drain');
    const reply = await gateway.waitLine('drained');
    if (!reply.startsWith('drained {')) throw new Error(`drain gateway: ${reply}`);
    const run = JSON.parse(reply.slice('drained '.length)) as DrainRun;
    pendingLeft = run.pendingLeft;
    if (pair === 0) {
      const file = join(dir, 'messages.bin');
      gateway.send(`messages ${file}`);
      await gateway.waitLine('messages');
      messages = readMessages(readFileSync(file));
    }

    // Raw: the same bytes, QoS 1, one mqtt.js client speaking the gateway's protocol (MQTT 5),
    // no application acks, no SQLite. Timed to the last PUBACK (what "publishing" costs) and to
    // the center having received everything (what a drain must at least wait for).
    center.send('ack off');
    const raw = await mqtt.connectAsync(broker.url, { clientId: `bench-raw-${pair}`, protocolVersion: 5 });
    (raw.stream as unknown as { setNoDelay(b: boolean): void }).setNoDelay(true);
    center.send(`expect ${messages.length}`);
    await new Promise((r) => setTimeout(r, 50));
    const t1 = performance.now();
    const delivered = center.waitLine('got');
    await Promise.all(messages.map((m) => raw.publishAsync(topics.stream('attendance'), m, { qos: 1 })));
    const rawPubackMs = performance.now() - t1;
    await delivered;
    const rawDeliveredMs = performance.now() - t1;
    await raw.endAsync();
    runs.push({ drainMs: run.drainMs, cpuMs: run.cpuMs, rawPubackMs, rawDeliveredMs });
    if (process.env.BENCH_DEBUG) console.error({ tcpNoDelay, pair, ...runs[pair], ratio: rawPubackMs / run.drainMs });
  }
  await gateway.stop();
  await center.stop();
  await broker.stop();
  const ratios = runs.map((r) => r.rawPubackMs / r.drainMs);
  const mid = runs.find((r) => r.drainMs === median(runs.map((x) => x.drainMs))) ?? runs[0];
  return {
    drainMs: median(runs.map((r) => r.drainMs)),
    cpuMs: mid.cpuMs,
    rawPubackMs: median(runs.map((r) => r.rawPubackMs)),
    rawDeliveredMs: median(runs.map((r) => r.rawDeliveredMs)),
    ratio: median(ratios),
    ratioMin: Math.min(...ratios),
    ratioMax: Math.max(...ratios),
    bytes: messages.reduce((n, m) => n + m.length, 0),
    batches: messages.length,
    pendingLeft,
    broker: broker.kind,
  };
}

export async function benchSync(opts: SyncBenchOptions = {}): Promise<Record<string, number | string>> {
  const dir = mkdtempSync(join(tmpdir(), 'tpgw-bench-sync-'));
  // The shipped defaults (config/schema.ts), so the figures describe what a gateway really does.
  const defaults = configSchema.parse({ gateway: { id: 'BENCH' } }).sync;
  const records = opts.drainRecords ?? 100_000;
  const batchMax = opts.batchMax ?? defaults.batchMax;
  const inflight = opts.maxInflightBatches ?? defaults.maxInflightBatches;
  try {
    const a = ingest(dir, opts.ingestMs ?? 2000);
    // Main figure: the broker tuned as a center should be (set_tcp_nodelay true).
    const pairs = opts.pairs ?? 5;
    const tuned = await drain(dir, records, batchMax, inflight, true, pairs);
    // Stock Mosquitto config, for reference (ack round trips pay Nagle + delayed ACK).
    const stock = await drain(dir, records, batchMax, inflight, false, pairs);
    const ratio = (a: number, b: number) => Number((a / b).toFixed(3));
    return {
      ...a,
      drainBroker: `${tuned.broker} (set_tcp_nodelay true)`,
      drainNodeFlags: NODE_FLAGS.join(' '),
      drainRecords: records,
      drainBatchMax: batchMax,
      drainMaxInflightBatches: inflight,
      drainBatches: tuned.batches,
      drainBytes: tuned.bytes,
      drainPendingLeft: tuned.pendingLeft + stock.pendingLeft,
      drainRecordsPerSec: rate(records, tuned.drainMs),
      drainGatewayCpuMs: Math.round(tuned.cpuMs),
      rawMqttQos1RecordsPerSec: rate(records, tuned.rawPubackMs),
      rawMqttQos1DeliveredRecordsPerSec: rate(records, tuned.rawDeliveredMs),
      drainPairs: pairs,
      drainRatio: Number(tuned.ratio.toFixed(3)),
      drainRatioRange: `${tuned.ratioMin.toFixed(2)}–${tuned.ratioMax.toFixed(2)}`,
      drainRatioTarget: 0.5,
      drainRatioVsDelivered: ratio(tuned.rawDeliveredMs, tuned.drainMs),
      drainStockMosquittoRecordsPerSec: rate(records, stock.drainMs),
      rawStockMosquittoRecordsPerSec: rate(records, stock.rawPubackMs),
      drainStockMosquittoRatio: Number(stock.ratio.toFixed(3)),
      drainStockMosquittoRatioRange: `${stock.ratioMin.toFixed(2)}–${stock.ratioMax.toFixed(2)}`,
    };
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
