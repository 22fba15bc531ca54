#!/usr/bin/env -S node --max-semi-space-size=1 --optimize-for-size --v8-pool-size=1 --no-turbofan --expose-gc
// (Node flags: see launch.ts, which says why and keeps the unit and the bench in step.)
// `tpgw` — the command line. Exit codes: 0 ok, 1 runtime failure, 2 bad configuration,
// 3 the store is corrupt (the file is kept for inspection; nothing is silently recreated).
import { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { redactConfig } from '../config/redact.js';
import { StoreCorruptError } from '../sync/store/database.js';
import { TlsConfigError, loadTlsFiles } from '../sync/mqtt/link.js';
import { Gateway } from './gateway.js';
import { createLogger } from './logger.js';
import { VERSION } from './version.js';

export const EXIT = { ok: 0, failure: 1, badConfig: 2, storeCorrupt: 3 } as const;

/** Runs a gateway until SIGTERM/SIGINT; stops within the 10 s systemd gives us. */
async function runGateway(
  gw: Gateway,
  log: ReturnType<typeof createLogger>,
  hooks: { started?: () => void; stop?: () => Promise<void> } = {},
): Promise<number> {
  try {
    await gw.start();
    hooks.started?.();
    // Starting leaves a few MB of garbage (config parsing, migrations, module initialisation)
    // that V8's memory reducer only collects once it has seen the process idle for a while; one
    // full collection now (gc is exposed by --expose-gc, see launch.ts) returns it at once.
    (globalThis as { gc?: () => void }).gc?.();
  } catch (err) {
    if (err instanceof TlsConfigError) {
      log.fatal({ key: err.key }, `invalid configuration: ${err.message}`);
      await gw.stop().catch(() => {});
      return EXIT.badConfig;
    }
    if (err instanceof StoreCorruptError) {
      log.fatal({ err: err.message }, 'store is corrupt: the file was kept untouched; restore it from backup or move it away to start fresh');
      await gw.stop().catch(() => {});
      return EXIT.storeCorrupt;
    }
    log.fatal({ err: (err as Error).message, stack: (err as Error).stack }, 'start failed');
    await gw.stop().catch(() => {});
    return EXIT.failure;
  }
  return new Promise<number>((resolve) => {
    let signalled = false;
    const onSignal = (sig: NodeJS.Signals) => {
      if (signalled) return;
      signalled = true;
      log.info({ signal: sig }, 'signal received, shutting down');
      // Hard limit: exit even if something hangs, so systemd never has to SIGKILL us.
      const hard = setTimeout(() => {
        log.error('shutdown took longer than 9 s, exiting');
        process.exit(EXIT.failure);
      }, 9000);
      hard.unref();
      gw.stop()
        .then(() => hooks.stop?.())
        .then(
          () => resolve(EXIT.ok),
          (err: Error) => {
            log.error({ err: err.message }, 'error during shutdown');
            resolve(EXIT.failure);
          },
        );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

export function buildCli(): Command {
  const program = new Command('tpgw')
    .description('Teaching-point gateway: attendance clocks and classroom cameras to the training center over MQTT')
    .version(VERSION);

  program
    .command('run')
    .description('run the gateway with a configuration file')
    .option('-c, --config <file>', 'YAML configuration (default: $TPGW_CONFIG)')
    .action(async (o: { config?: string }) => {
      const loaded = loadConfig({ file: o.config, env: process.env });
      if (!loaded.ok) {
        process.stderr.write(`tpgw: invalid configuration:\n${loaded.errors.map((e) => `  ${e}`).join('\n')}\n`);
        process.exit(EXIT.badConfig);
      }
      const log = createLogger(loaded.config.log.level);
      log.info({ config: redactConfig(loaded.config), source: loaded.source }, 'configuration loaded');
      const gw = new Gateway(loaded.config, { logger: log, configHash: loaded.hash });
      process.exit(await runGateway(gw, log));
    });

  program
    .command('demo')
    .description('demo mode: embedded broker, simulated center, clock and camera, HTTP on localhost')
    .option('--data-dir <dir>', 'where the demo keeps its database', './data/demo')
    .option('--mqtt-port <port>', 'embedded broker port', '1883')
    .option('--http <listen>', 'HTTP listen address', '127.0.0.1:8080')
    .option('--every <ms>', 'simulated punch interval', '1500')
    .action(async (o: { dataDir: string; mqttPort: string; http: string; every: string }) => {
      const log = createLogger(process.env.TPGW_LOG__LEVEL ?? 'info');
      // Demo-only parts (embedded broker, simulators) never load in production.
      const { runDemo } = await import('./demo/demo.js');
      const demo = await runDemo({ dataDir: o.dataDir, mqttPort: Number(o.mqttPort), httpListen: o.http, everyMs: Number(o.every), logger: log });
      process.exit(await runGateway(demo.gateway, log, { started: () => demo.started(), stop: () => demo.stop() }));
    });

  const config = program.command('config').description('configuration tools');
  config
    .command('check')
    .description('validate a configuration file (exit 2 with every problem listed)')
    .argument('[file]', 'YAML configuration (default: $TPGW_CONFIG)')
    .action((file?: string) => {
      const loaded = loadConfig({ file, env: process.env });
      if (!loaded.ok) {
        process.stderr.write(`${loaded.errors.join('\n')}\n`);
        process.exit(EXIT.badConfig);
      }
      // Files the configuration names must also be usable (the unit runs this before start).
      try {
        const m = loaded.config.center.mqtt;
        loadTlsFiles({ caFile: m.ca, certFile: m.cert, keyFile: m.key, keyPassphrase: m.keyPassphrase });
      } catch (err) {
        if (!(err instanceof TlsConfigError)) throw err;
        process.stderr.write(`${err.message}\n`);
        process.exit(EXIT.badConfig);
      }
      process.stdout.write(`${JSON.stringify(redactConfig(loaded.config), null, 2)}\n`);
    });
  config
    .command('schema')
    .description('print the JSON Schema of the configuration')
    .action(async () => {
      // Only this command needs the JSON Schema generator: `run` does not load it.
      const { configJsonSchema } = await import('../config/json-schema.js');
      process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
    });

  return program;
}

buildCli()
  .parseAsync(process.argv)
  .catch((err: Error) => {
    process.stderr.write(`tpgw: ${err.message}\n`);
    process.exit(EXIT.failure);
  });
