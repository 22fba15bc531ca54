// A real MQTT broker for tests: Mosquitto spawned on a free loopback port when installed,
// otherwise the embedded Aedes broker (the same one demo mode uses).
import { spawn } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { which } from './which.js';

export interface TestBroker {
  kind: 'mosquitto' | 'aedes';
  port: number;
  url: string;
  stop(): Promise<void>;
}

async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`broker did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface BrokerOptions {
  /** Mosquitto max_queued_messages per client (default: large, so tests see no broker drops). */
  maxQueued?: number;
  /** Force the embedded broker even when Mosquitto is installed. */
  embedded?: boolean;
  port?: number;
}

export async function startBroker(opts: BrokerOptions = {}): Promise<TestBroker> {
  const port = opts.port ?? (await freePort());
  const mosquitto = opts.embedded ? null : which('mosquitto');
  if (mosquitto) {
    const dir = mkdtempSync(join(tmpdir(), 'tpgw-mosq-'));
    const conf = join(dir, 'mosquitto.conf');
    writeFileSync(
      conf,
      [
        `listener ${port} 127.0.0.1`,
        'allow_anonymous true',
        'persistence false',
        `max_queued_messages ${opts.maxQueued ?? 1000000}`,
        'max_inflight_messages 0',
        'log_type error',
        '',
      ].join('\n'),
    );
    const child = spawn(mosquitto, ['-c', conf], { stdio: ['ignore', 'ignore', 'inherit'] });
    await waitForPort(port);
    return {
      kind: 'mosquitto',
      port,
      url: `mqtt://127.0.0.1:${port}`,
      stop: () =>
        new Promise<void>((resolve) => {
          const done = () => (rmSync(dir, { recursive: true, force: true }), resolve());
          if (child.exitCode !== null) return done();
          child.once('exit', done);
          child.kill('SIGTERM');
        }),
    };
  }
  const { Aedes } = await import('aedes');
  const aedes = await Aedes.createBroker();
  const server = createServer(aedes.handle);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    kind: 'aedes',
    port,
    url: `mqtt://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        aedes.close(() => server.close(() => resolve()));
      }),
  };
}
