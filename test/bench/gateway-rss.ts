// Resident memory of an idle gateway: `tpgw run` (compiled, with the node flags the systemd unit
// uses) connected to a broker,
// one serial clock on a pty, no traffic; RSS read from /proc after it settles.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker } from '../helpers/broker.js';
import { freePort } from '../helpers/free-port.js';
import { ptyPair } from '../helpers/pty.js';
import { ROOT, writeConfig } from '../helpers/gateway-process.js';

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
  const child = spawn(process.execPath, ['--max-semi-space-size=1', join(ROOT, 'dist/gateway/cli.js'), 'run', '--config', cfg], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, settleMs));
    if (child.exitCode !== null) throw new Error(`gateway exited ${child.exitCode}`);
    const samples: number[] = [];
    for (let i = 0; i < 5; i++) {
      samples.push(rssMb(child.pid!));
      await new Promise((r) => setTimeout(r, 400));
    }
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
