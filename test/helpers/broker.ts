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

async function waitForPort(port: number, timeoutMs = 10_000, exited: () => boolean = () => false): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited()) throw new Error(`broker exited before listening on ${port}`);
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
    const m = await spawnMosquitto(mosquitto, port, [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      ...queueLimits(opts.maxQueued),
    ], { tlsFiles: false });
    return { kind: 'mosquitto', port, url: `mqtt://127.0.0.1:${port}`, stop: m.stop };
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

export interface TlsBrokerOptions {
  /** PEM paths: the CA that client certificates must chain to, and the server's own pair. */
  caFile: string;
  certFile: string;
  keyFile: string;
  /** Mutual TLS: refuse clients that present no certificate signed by `caFile`. */
  requireCertificate?: boolean;
  /**
   * The client certificate's CN becomes the MQTT username; anonymous clients are then refused,
   * so a connection proves the broker took the identity from the certificate.
   */
  useIdentityAsUsername?: boolean;
  maxQueued?: number;
  port?: number;
}

export interface TestTlsBroker extends TestBroker {
  kind: 'mosquitto';
  /** `mqtts://127.0.0.1:<port>` (the server certificate has SAN IP:127.0.0.1 and DNS:localhost). */
  url: string;
  /** Mosquitto's stderr so far (TLS refusals are logged there), for failure messages. */
  output(): string;
}

/** tap `skip` text when a TLS broker cannot be started here (Aedes has no TLS listener here). */
export function tlsBrokerMissing(): string | false {
  return which('mosquitto') ? false : 'mosquitto not installed (apt-get install -y mosquitto); the TLS tests need a real TLS broker';
}

/** A real Mosquitto with one TLS listener on 127.0.0.1. Throws if Mosquitto is not installed. */
export async function startTlsBroker(opts: TlsBrokerOptions): Promise<TestTlsBroker> {
  const mosquitto = which('mosquitto');
  if (!mosquitto) throw new Error('mosquitto not installed (apt-get install -y mosquitto)');
  const port = opts.port ?? (await freePort());
  const m = await spawnMosquitto(mosquitto, port, [
    `listener ${port} 127.0.0.1`,
    `cafile ${opts.caFile}`,
    `certfile ${opts.certFile}`,
    `keyfile ${opts.keyFile}`,
    `require_certificate ${opts.requireCertificate ? 'true' : 'false'}`,
    ...(opts.useIdentityAsUsername ? ['use_identity_as_username true', 'allow_anonymous false'] : ['allow_anonymous true']),
    ...queueLimits(opts.maxQueued),
  ], { tlsFiles: true });
  return { kind: 'mosquitto', port, url: `mqtts://127.0.0.1:${port}`, stop: m.stop, output: m.output };
}

function queueLimits(maxQueued: number | undefined): string[] {
  return [`max_queued_messages ${maxQueued ?? 1000000}`, 'max_inflight_messages 0'];
}

/** Keeps at most this much of Mosquitto's stderr. */
const OUTPUT_MAX = 64 * 1024;

/**
 * `tlsFiles`: the config names files Mosquitto must read. Its stderr is then captured (refused
 * handshakes are logged there as errors, expected noise in TLS tests) instead of passed through.
 */
async function spawnMosquitto(mosquitto: string, port: number, listenerLines: string[], opts: { tlsFiles: boolean }) {
  const dir = mkdtempSync(join(tmpdir(), 'tpgw-mosq-'));
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      ...listenerLines,
      'persistence false',
      'log_type error',
      // Started as root (CI), Mosquitto switches to user `mosquitto` before it reads the TLS
      // files, which then live in a root-only temp dir; staying root keeps them private.
      ...(opts.tlsFiles && process.getuid?.() === 0 ? ['user root'] : []),
      '',
    ].join('\n'),
  );
  const child = spawn(mosquitto, ['-c', conf], { stdio: ['ignore', 'ignore', opts.tlsFiles ? 'pipe' : 'inherit'] });
  let output = '';
  child.stderr?.on('data', (d: Buffer) => {
    output = (output + d.toString()).slice(-OUTPUT_MAX);
  });
  const stop = () =>
    new Promise<void>((resolve) => {
      const done = () => (rmSync(dir, { recursive: true, force: true }), resolve());
      if (child.exitCode !== null || child.signalCode !== null) return done();
      child.once('exit', done);
      child.kill('SIGTERM');
    });
  try {
    await waitForPort(port, 10_000, () => child.exitCode !== null);
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}; mosquitto said:\n${output}`);
  }
  return { stop, output: () => output };
}
