// The gateway side of the backlog-drain bench, in its own process started with the node flags
// the systemd unit uses (gateway/launch.ts): the drain is measured on the runtime it runs on in
// production, while the raw mqtt.js baseline stays in the bench process on Node's defaults.
// Protocol on stdin/stdout, one command per line:
//   -> `drain`                 <- `drained {"drainMs":…,"cpuMs":…,"pendingLeft":…}`
//   -> `messages <file>`       <- `messages <count>` (the exact bytes the first drain sent, each
//                                 prefixed with its 4-byte length, for the raw run to publish)
//   -> `quit`
// Usage: node <flags> drain-gateway.js <db file> <broker url> <records> <batchMax> <maxInflightBatches>
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { openDatabase, closeDatabase } from '../../sync/store/database.js';
import { PunchStore } from '../../sync/store/punch-store.js';
import { Outbox } from '../../sync/outbox/outbox.js';
import { MqttLink } from '../../sync/mqtt/link.js';
import { makeTopics } from '../../sync/mqtt/topics.js';
import { Uplink, batchMessage } from '../../sync/uplink/uplink.js';
import type { NewPunch } from '../../sync/types.js';

export function benchPunch(i: number): NewPunch {
  const time = new Date(Date.UTC(2026, 11, 4, 8) + i * 1000).toISOString().replace('Z', '+00:00');
  const user = String(1000 + (i % 400));
  return {
    clock: `clock-${i % 4}`, user, verify: 'fingerprint', time, receivedAt: time, clockSynced: true,
    monoNs: 5_000_000_000n + BigInt(i) * 1_000_000n, bootId: '3b9f0c7e-5a61-4f0e-9c55-2f1d1f0a7b11', raw: `${user},${time},1`,
  };
}

export interface DrainRun {
  drainMs: number;
  /** This process's CPU during the drain (the MQTT client included; broker and center excluded). */
  cpuMs: number;
  pendingLeft: number;
}

async function main(): Promise<void> {
  const [dbFile, url, recordsArg, batchMaxArg, inflightArg] = process.argv.slice(2);
  const records = Number(recordsArg);
  const topics = makeTopics('tpgw', 'BENCH');
  const db = openDatabase(dbFile);
  const outbox = new Outbox(db);
  const store = new PunchStore(db, 'BENCH', outbox);
  db.transaction(() => {
    for (let i = 0; i < records; i++) store.append(benchPunch(i));
  })();
  // The backlog built up over time in reality, with checkpoints along the way: fold the WAL of
  // this bulk fill into the file now so its checkpoint is not billed to the drain.
  db.pragma('wal_checkpoint(TRUNCATE)');

  const link = new MqttLink({
    url, clientId: 'tpgw-BENCH', rejectUnauthorized: true, keepalive: 30, protocolVersion: 5,
    reconnectMinMs: 100, reconnectMaxMs: 1000, topics, statusOnline: () => ({ version: 'bench', startedAt: new Date().toISOString() }),
  });
  const connected = new Promise<void>((r) => link.once('connected', () => r()));
  link.start();
  await connected;

  let runs = 0;
  const drain = async (): Promise<DrainRun> => {
    if (runs++ > 0) outbox.resendFrom('attendance', 1);
    const uplink = new Uplink({
      stream: 'attendance', outbox, link, topics, batchMax: Number(batchMaxArg), lingerMs: 20,
      maxInflightBatches: Number(inflightArg), ackTimeoutMs: 60_000,
    });
    let settled = 0;
    const done = new Promise<void>((resolve) =>
      uplink.on('settled', (_b, n) => {
        settled += n;
        if (settled >= records) resolve();
      }),
    );
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    uplink.start();
    await done;
    const drainMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    await uplink.stop();
    const st = outbox.stats('attendance');
    return { drainMs, cpuMs: (cpu.user + cpu.system) / 1000, pendingLeft: st.pending + st.inflight };
  };

  // The exact bytes a drain sends, rebuilt from the batches recorded in SQLite.
  const writeMessages = (file: string): number => {
    const batches = db.prepare("SELECT batch, first_seq AS f, last_seq AS l FROM outbox_batches WHERE stream = 'attendance' ORDER BY first_seq").all() as { batch: string; f: number; l: number }[];
    const body = db.prepare("SELECT CAST(group_concat(payload, ',' ORDER BY seq) AS BLOB) FROM outbox_attendance WHERE seq BETWEEN ? AND ?").pluck();
    const parts: Buffer[] = [];
    for (const b of batches) {
      const m = batchMessage(b.batch, body.get(b.f, b.l) as Buffer);
      const len = Buffer.alloc(4);
      len.writeUInt32BE(m.length);
      parts.push(len, m);
    }
    writeFileSync(file, Buffer.concat(parts));
    return batches.length;
  };

  process.stdout.write('ready\n');
  for await (const line of createInterface({ input: process.stdin })) {
    const [cmd, arg] = line.split(' ');
    if (cmd === 'drain') process.stdout.write(`drained ${JSON.stringify(await drain())}\n`);
    if (cmd === 'messages') process.stdout.write(`messages ${writeMessages(arg)}\n`);
    if (cmd === 'quit') break;
  }
  await link.stop();
  closeDatabase(db);
}

/** Reads back what `messages <file>` wrote. */
export function readMessages(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off < buf.length; ) {
    const len = buf.readUInt32BE(off);
    out.push(buf.subarray(off + 4, off + 4 + len));
    off += 4 + len;
  }
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
