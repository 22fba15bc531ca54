// Runs `tpgw run` as a real child process (through tsx, so tests never run a stale build) and
// waits until its HTTP health endpoint answers.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

/** The package root, from test/helpers (tsx) or dist/test/helpers (compiled bench) alike. */
export const ROOT = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
})();

export interface GatewayProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function writeConfig(dir: string, config: unknown): string {
  const file = join(dir, 'tpgw.yaml');
  writeFileSync(file, stringify(config));
  return file;
}

export function spawnGateway(args: string[], env: NodeJS.ProcessEnv = {}): GatewayProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'gateway/cli.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => r({ code, signal })),
  );
  return { child, output: () => out, exited };
}

export async function waitHealthy(port: number, gw: GatewayProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (gw.child.exitCode !== null) throw new Error(`gateway exited (${gw.child.exitCode}):\n${gw.output()}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (r.status === 200) return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`gateway not healthy after ${timeoutMs} ms:\n${gw.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function stopGateway(gw: GatewayProcess, signal: NodeJS.Signals = 'SIGTERM') {
  if (gw.child.exitCode === null && gw.child.signalCode === null) gw.child.kill(signal);
  return gw.exited;
}
