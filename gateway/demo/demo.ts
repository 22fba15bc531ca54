// Demo mode (`tpgw demo`, what `npm start` runs): the whole pipeline in one process on a fresh
// machine — embedded broker, simulated center that acks, a simulated serial clock producing
// punches, and a real gateway in between, with the HTTP API on localhost.
import { resolve } from 'node:path';
import { configSchema, type Config } from '../../config/schema.js';
import { LineClockSim } from '../../drivers/sim/line-clock-sim.js';
import { Gateway } from '../gateway.js';
import type { Logger } from '../logger.js';
import { startEmbeddedBroker } from './embedded-broker.js';
import { SimulatedCenter } from './simulated-center.js';
import { demoCamera } from './demo-camera.js';

export interface DemoOptions {
  dataDir: string;
  mqttPort: number;
  httpListen: string;
  everyMs: number;
  logger: Logger;
}

export interface RunningDemo {
  gateway: Gateway;
  config: Config;
  /** Call once the gateway has started: the simulated clock begins punching. */
  started(): void;
  stop(): Promise<void>;
}

const DEMO_USERS = ['1001', '1002', '1003', '1004', '1005', '1006', '1007', '1008', '1009', '1010'];

export async function runDemo(o: DemoOptions): Promise<RunningDemo> {
  const log = o.logger;
  const broker = await startEmbeddedBroker(o.mqttPort);
  log.info({ url: broker.url }, 'demo: embedded MQTT broker listening');

  const center = new SimulatedCenter(broker.url, 'tpgw', (stream, gateway, batch, count, fresh) =>
    log.info({ stream, gateway, batch, count, fresh }, `demo center: stored ${count} ${stream} records, acked`),
  );
  await center.start();

  const camera = await demoCamera(log);
  const config = configSchema.parse({
    gateway: { id: 'demo', name: 'Demo teaching point', dataDir: resolve(o.dataDir), timeSync: 'auto' },
    center: { mqtt: { url: broker.url, reconnectMinMs: 500, reconnectMaxMs: 5000 }, ackTimeoutSeconds: 10 },
    http: { listen: o.httpListen, token: 'demo' },
    clocks: [{ id: 'demo-clock', name: 'Simulated fingerprint clock', driver: 'line', port: 'sim:demo-clock', timezone: 'Asia/Shanghai' }],
    cameras: camera ? [camera.config] : [],
    recordings: { segmentSeconds: 10, keepDays: 1, minFreeGB: 0.5 },
    snapshots: { intervalSeconds: 30 },
    log: { level: log.level },
  });

  // The simulated clock is plugged in before the gateway opens its port, like a real device.
  const sim = new LineClockSim({ path: 'sim:demo-clock', timezone: 'Asia/Shanghai' });
  await sim.open();
  const gateway = new Gateway(config, { logger: log, configHash: 'demo' });

  return {
    gateway,
    config,
    started() {
      sim.startRandom({ users: DEMO_USERS, everyMs: o.everyMs });
      const addr = gateway.httpAddress;
      log.info(
        { http: addr && `http://${addr.host}:${addr.port}`, token: 'demo' },
        `demo running: curl -H 'Authorization: Bearer demo' http://${addr?.host}:${addr?.port}/api/status`,
      );
    },
    async stop() {
      await sim.close();
      await center.stop();
      await camera?.stop();
      await broker.stop();
    },
  };
}
