// The production artifact: dist/bundle/tpgw.js (what the systemd unit runs, built by
// `npm run build`, which `npm test` runs first) starts with the unit's node flags, opens the
// store, connects to a real broker, reads a punch from a real pty, serves the API and stops
// cleanly on SIGTERM. Tests elsewhere run the TypeScript sources; this one catches what only
// bundling can break (a dependency loaded by a computed path, a chunk that fails to load).
import t from 'tap';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ENTRY, NODE_FLAGS } from '../../gateway/launch.js';
import { startBroker } from '../helpers/broker.js';
import { freePort } from '../helpers/free-port.js';
import { ROOT, writeConfig } from '../helpers/gateway-process.js';
import { ptyPair, socatMissing } from '../helpers/pty.js';

const entry = join(ROOT, ENTRY);
const missing = existsSync(entry) ? false : `${ENTRY} not built (run npm run build)`;

function run(args: string[]) {
  const child = spawn(process.execPath, [...NODE_FLAGS, entry, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, exited, output: () => out };
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, output: () => string): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what} did not happen:\n${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

t.test('config tools from the bundle', { skip: missing }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tpgw-bundle-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = writeConfig(dir, { gateway: { id: 'g1', dataDir: join(dir, 'data') } });
  const check = run(['config', 'check', file]);
  const code = await check.exited;
  t.equal(code, 0, 'config check: exit 0');
  if (code !== 0) t.comment(check.output());
  t.equal(JSON.parse(check.output()).gateway.id, 'g1');
  const schema = run(['config', 'schema']);
  t.equal(await schema.exited, 0);
  t.ok(JSON.parse(schema.output()).properties.clocks, 'JSON Schema printed');
  const bad = run(['run', '--config', join(dir, 'nope.yaml')]);
  t.equal(await bad.exited, 2, 'a missing config is exit 2');
});

t.test('tpgw run from the bundle: store, broker, a punch from a pty, API, clean stop', { skip: missing || socatMissing }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tpgw-bundle-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const broker = await startBroker();
  t.teardown(() => broker.stop());
  const pty = await ptyPair(dir);
  t.teardown(() => pty.close());
  const port = await freePort();
  const file = writeConfig(dir, {
    gateway: { id: 'bundle', dataDir: join(dir, 'data'), timeSync: 'synced' },
    center: { mqtt: { url: broker.url } },
    http: { listen: `127.0.0.1:${port}`, token: 'tok' },
    clocks: [{ id: 'c1', driver: 'line', port: pty.device }],
    log: { level: 'warn' },
  });
  const gw = run(['run', '--config', file]);
  t.teardown(() => {
    if (gw.child.exitCode === null) gw.child.kill('SIGKILL');
  });
  const api = (path: string) => fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: 'Bearer tok' } });
  await until('healthy and connected', async () => {
    const r = await api('/healthz');
    const body = (await r.json()) as { mqtt?: string };
    return r.status === 200 && body.mqtt === 'connected' ? true : undefined;
  }, gw.output);
  await until('the clock port open', async () => ((await (await api('/api/status')).json()) as { clocks: { connected: boolean }[] }).clocks[0]?.connected || undefined, gw.output);

  const fd = openSync(pty.peer, 'w');
  writeSync(fd, 'BUNDLE-1\r\n');
  closeSync(fd);
  const punches = await until('the punch stored', async () => {
    const body = (await (await api('/api/punches')).json()) as { punches: { user?: string }[] };
    return body.punches.length > 0 ? body.punches : undefined;
  }, gw.output);
  t.match(punches[0], { user: 'BUNDLE-1' });
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  t.match(metrics, /tpgw_punches_total\{clock="c1"\} 1/);

  gw.child.kill('SIGTERM');
  t.equal(await gw.exited, 0, 'exit 0 after SIGTERM');
});
