// The whole configuration of one gateway. Every key has a default except `gateway.id`, so a
// minimal file is two lines. `config.schema.json` is generated from this (npm run schema) and a
// test keeps them equal, so editors validating YAML see exactly what the service accepts.
import { z } from 'zod';
import { clockSchema } from './clocks.js';
import { cameraSchema, ffmpegSchema, recordingsSchema, snapshotsSchema } from './cameras.js';

export const gatewayIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 _ -');

const mqttSchema = z
  .strictObject({
    url: z.string().regex(/^(mqtts?|wss?|tcp|ssl):\/\//, 'must be an mqtt://, mqtts://, ws:// or wss:// URL').default('mqtt://127.0.0.1:1883'),
    username: z.string().optional(),
    password: z.string().optional(),
    /** Default: tpgw-<gateway.id> */
    clientId: z.string().optional(),
    /** PEM file paths for TLS. */
    ca: z.string().optional(),
    cert: z.string().optional(),
    key: z.string().optional(),
    /** Passphrase of an encrypted `key`; the key is decrypted once at start. */
    keyPassphrase: z.string().optional(),
    rejectUnauthorized: z.boolean().default(true),
    topicPrefix: z.string().regex(/^[^#+]+$/, 'must not contain MQTT wildcards').default('tpgw'),
    keepalive: z.number().int().nonnegative().default(30),
    protocolVersion: z.union([z.literal(4), z.literal(5)]).default(5),
    /** Reconnect backoff: first delay and cap, in ms (jitter is added). */
    reconnectMinMs: z.number().int().positive().default(1000),
    reconnectMaxMs: z.number().int().positive().default(60000),
  })
  .prefault({});

export const configSchema = z
  .strictObject({
    gateway: z.strictObject({
      id: gatewayIdSchema,
      name: z.string().optional(),
      dataDir: z.string().default('./data'),
      /**
       * How the gateway learns whether the system clock is synchronised: `auto` asks
       * systemd-timesyncd / timedatectl; `synced` / `unsynced` force it (tests, boxes with GPS time).
       */
      timeSync: z.enum(['auto', 'synced', 'unsynced']).default('auto'),
    }),
    center: z
      .strictObject({
        mqtt: mqttSchema,
        ackTimeoutSeconds: z.number().positive().default(30),
      })
      .prefault({}),
    sync: z
      .strictObject({
        batchMax: z.number().int().min(1).max(10000).default(500),
        lingerMs: z.number().int().nonnegative().default(20),
        maxInflightBatches: z.number().int().min(1).max(1000).default(32),
        keepSettledDays: z.number().nonnegative().default(90),
      })
      .prefault({}),
    http: z
      .strictObject({
        listen: z.string().default('127.0.0.1:8080'),
        /** Bearer token for /api/*; unset means the API refuses every request. */
        token: z.string().optional(),
      })
      .prefault({}),
    clocks: z.array(clockSchema).default([]),
    cameras: z.array(cameraSchema).default([]),
    ffmpeg: ffmpegSchema,
    recordings: recordingsSchema,
    snapshots: snapshotsSchema,
    log: z
      .strictObject({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .prefault({}),
  })
  .superRefine(
    (cfg, ctx) => {
      // Ids are used in topics, file paths and record ids: duplicates would merge two devices.
      // Runs even when other keys are invalid (`when` below) so one start lists every problem;
      // hence the defensive reads: `cfg` may be partly unparsed input here.
      for (const key of ['clocks', 'cameras'] as const) {
        const list: unknown = cfg?.[key];
        if (!Array.isArray(list)) continue;
        const seen = new Set<string>();
        list.forEach((item: unknown, i) => {
          const id = (item as { id?: unknown } | null)?.id;
          if (typeof id !== 'string') return;
          if (seen.has(id)) ctx.addIssue({ code: 'custom', path: [key, i, 'id'], message: `duplicate id "${id}"` });
          seen.add(id);
        });
      }
    },
    { when: () => true },
  );

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
