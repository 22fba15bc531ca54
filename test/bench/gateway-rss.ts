// Resident memory of an idle gateway: `tpgw run` exactly as systemd/tpgw.service starts it (the
// node flags and bundled entry from gateway/launch.ts) connected to a broker, one serial clock
// on a pty, HTTP on, no traffic; RSS read from /proc after it settles.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker } from '../helpers/broker.js';
import { freePort } from '../helpers/free-port.js';
import { ptyPair } from '../helpers/pty.js';
import { ROOT, writeConfig } from '../helpers/gateway-process.js';
import { ENTRY, NODE_FLAGS } from '../../gateway/launch.js';

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

export async function benchGatewayRss(settleMs = 8000): Promise<Record<string, number | string>> {
  const dir = mkdtempSync(join(tmpdir(), 'tpgw-rss-'));
  const broker = await startBroker();
  const pty = await ptyPair();
  const httpPort = await freePort();
  const cfg = writeConfig(dir, {
    gateway: { id: 'bench-rss', dataDir: join(dir, 'data'), timeSync: 'synced' },
    center: { mqtt: { url: broker.url } },
    http: { listen: `127.0.0.1:${httpPort}`, token: 'x' },
    clocks: [{ id: 'c1', driver: 'line', port: pty.device }],
    log: { level: 'warn' },
  });
  const child = spawn(process.execPath, [...NODE_FLAGS, join(ROOT, ENTRY), 'run', '--config', cfg], {
    stdio: 'ignore',
    env: { ...process.env, NODE_ENV: 'production' }, // as the unit's Environment=
  });
  try {
    await new Promise((r) => setTimeout(r, settleMs));
    if (child.exitCode !== null) throw new Error(`gateway exited ${child.exitCode}`);
    const samples: number[] = [];
    for (let i = 0; i < 5; i++) {
      samples.push(rssMb(child.pid!));
      await new Promise((r) => setTimeout(r, 400));
    }
    // A gateway that failed half-way would be small for the wrong reason: after sampling, check
    // that it serves its API and is connected to the broker.
    const health = await fetch(`http://127.0.0.1:${httpPort}/healthz`).then((r) => r.json() as Promise<{ mqtt?: string }>);
    if (health.mqtt !== 'connected') throw new Error(`gateway not healthy: ${JSON.stringify(health)}`);
    return { 'gateway idle RSS (MB)': Math.max(...samples), 'gateway idle RSS target (MB)': 60 };
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    await pty.close();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
