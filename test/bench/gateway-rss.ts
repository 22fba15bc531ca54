// Resident memory of an idle gateway: `tpgw run` exactly as systemd/tpgw.service starts it (the
// node flags and bundled entry from gateway/launch.ts) connected to a broker, one serial clock
// on a pty, HTTP on, no traffic; RSS read from /proc after it settles. Then a morning's worth of
// punches goes through it to an acking center and it is measured idle again: a box idles after
// work far more than it idles fresh from boot, so both figures are printed.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker, startTlsBroker, type TestBroker } from '../helpers/broker.js';
import { makeTlsMaterial, type TlsMaterial } from '../helpers/tls-certs.js';
import { freePort } from '../helpers/free-port.js';
import { ptyPair } from '../helpers/pty.js';
import { ROOT, writeConfig } from '../helpers/gateway-process.js';
import { TestCenter } from '../helpers/center.js';
import { ENTRY, NODE_FLAGS } from '../../gateway/launch.js';

const BURST = 2000;

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The highest of 5 readings 400 ms apart: the figure an operator would see in `top`. */
async function settledRss(pid: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    samples.push(rssMb(pid));
    await sleep(400);
  }
  return Math.max(...samples);
}

/** Punch lines as a line clock prints them (user, local time, verify method), in one stream. */
async function punchBurst(peer: string, n: number): Promise<void> {
  const fh = await open(peer, 'w');
  try {
    for (let i = 0; i < n; i += 100) {
      let chunk = '';
      for (let j = i; j < Math.min(n, i + 100); j++) {
        const mi = String(Math.floor(j / 60) % 60).padStart(2, '0');
        chunk += `U${String(j).padStart(5, '0')},2026-12-04 08:${mi}:${String(j % 60).padStart(2, '0')},fingerprint\r\n`;
      }
      await fh.write(chunk);
      await sleep(20); // a clock's UART trickles; the pty's buffer is a few KB
    }
  } finally {
    await fh.close();
  }
}

export interface RssFigures {
  idleMb: number;
  /** Idle again after BURST punches went through to an acking center. */
  afterWorkMb: number;
  /** Idle again after, in addition, one HTTP API request. */
  afterHttpMb: number;
}

/**
 * One gateway measured idle, then idle again after BURST punches. `tls`: the center link is
 * mqtts:// with mutual TLS (a CA, a client certificate), as a city center would require.
 */
async function measureGateway(tls: boolean, settleMs: number, afterWorkSettleMs: number): Promise<RssFigures> {
  const dir = mkdtempSync(join(tmpdir(), 'tpgw-rss-'));
  let certs: TlsMaterial | null = null;
  let broker: TestBroker;
  if (tls) {
    certs = await makeTlsMaterial({ clientName: 'bench-rss' });
    broker = await startTlsBroker({ caFile: certs.caCert, certFile: certs.serverCert, keyFile: certs.serverKey, requireCertificate: true });
  } else {
    broker = await startBroker();
  }
  const pty = await ptyPair();
  const httpPort = await freePort();
  const tlsFiles = certs ? { ca: certs.caCert, cert: certs.clientCert, key: certs.clientKey } : {};
  const cfg = writeConfig(dir, {
    gateway: { id: 'bench-rss', dataDir: join(dir, 'data'), timeSync: 'synced' },
    center: { mqtt: { url: broker.url, ...tlsFiles } },
    http: { listen: `127.0.0.1:${httpPort}`, token: 'x' },
    clocks: [{ id: 'c1', driver: 'line', port: pty.device }],
    log: { level: 'warn' },
  });
  const child = spawn(process.execPath, [...NODE_FLAGS, join(ROOT, ENTRY), 'run', '--config', cfg], {
    stdio: 'ignore',
    env: { ...process.env, NODE_ENV: 'production' }, // as the unit's Environment=
  });
  // Writes to the pty block once its buffer is full and nobody reads: a gateway that died must
  // fail the bench, not hang it (closing the pty in `finally` then unblocks the write).
  const died = new Promise<never>((_, reject) => child.once('exit', (code, sig) => reject(new Error(`gateway exited (${code ?? sig})`))));
  died.catch(() => {});
  try {
    await sleep(settleMs);
    if (child.exitCode !== null) throw new Error(`gateway exited ${child.exitCode}`);
    const idle = await settledRss(child.pid!);

    // A gateway that failed half-way would be small for the wrong reason. Its retained status
    // says it is connected; HTTP is checked last, because the first HTTP request loads Node's
    // fetch implementation (undici, with its WebAssembly parser) for the Hono adapter.
    const center = new TestCenter(
      broker.url,
      'bench-rss',
      'attendance',
      'tpgw',
      certs ? { ca: readFileSync(certs.caCert), cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) } : {},
    );
    await center.start();
    try {
      const online = () => center.statuses.some((st) => (st as { state?: string }).state === 'online');
      await center.waitFor(online, 10_000, 'the gateway online on the broker');
      await Promise.race([punchBurst(pty.peer, BURST), died]);
      await center.waitFor(() => center.byId.size >= BURST, 60_000, `${BURST} punches at the center`);
    } finally {
      await center.stop();
    }
    await sleep(afterWorkSettleMs);
    const afterWork = await settledRss(child.pid!);

    const status = await fetch(`http://127.0.0.1:${httpPort}/api/status`, { headers: { authorization: 'Bearer x' } });
    if (status.status !== 200) throw new Error(`GET /api/status: HTTP ${status.status}`);
    await status.arrayBuffer();
    await sleep(afterWorkSettleMs);
    const afterHttp = await settledRss(child.pid!);
    return { idleMb: idle, afterWorkMb: afterWork, afterHttpMb: afterHttp };
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    await pty.close();
    await broker.stop();
    certs?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

// V8's memory reducer shrinks the heap ~8 s after start-up or a burst of work and the RSS drops
// by 3-4 MB then; a box idles for hours, so the figures are taken after it, at 20 s.
export async function benchGatewayRss(settleMs = 20_000, afterWorkSettleMs = 20_000): Promise<Record<string, number | string>> {
  const plain = await measureGateway(false, settleMs, afterWorkSettleMs);
  const tls = await measureGateway(true, settleMs, afterWorkSettleMs);
  return {
    'gateway idle RSS, mqtt:// (MB)': plain.idleMb,
    [`gateway idle RSS after ${BURST} punches, mqtt:// (MB)`]: plain.afterWorkMb,
    'gateway idle RSS after punches and an HTTP request, mqtt:// (MB)': plain.afterHttpMb,
    'gateway idle RSS, mqtts:// mutual TLS (MB)': tls.idleMb,
    [`gateway idle RSS after ${BURST} punches, mqtts:// (MB)`]: tls.afterWorkMb,
    'gateway idle RSS after punches and an HTTP request, mqtts:// (MB)': tls.afterHttpMb,
    'gateway idle RSS target (MB)': 60,
    'gateway node flags': NODE_FLAGS.join(' '),
  };
}
