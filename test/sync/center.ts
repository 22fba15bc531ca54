// A simulated training center for sync tests: subscribes to a gateway's stream, records every
// batch message it receives, and acks them when (and only when) told to.
import mqtt from 'mqtt';
import type { MqttClient } from 'mqtt';
import type { Topics } from '../../sync/mqtt/topics.js';
import type { StreamName } from '../../sync/types.js';
import { until } from '../helpers/until.js';

export interface ReceivedBatch {
  batch: string;
  records: { id: string; seq: number; [k: string]: unknown }[];
  raw: Buffer;
}

export interface TestCenter {
  client: MqttClient;
  received: ReceivedBatch[];
  /** Messages on other subscribed topics (topic -> payloads). */
  messages: Map<string, Buffer[]>;
  /** Ack every batch as it arrives (true), or hold acks (false). */
  autoAck: boolean;
  ack(batch: string): Promise<void>;
  /** Record ids stored after dedupe, in arrival order. */
  storedIds(): string[];
  watch(topic: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startCenter(url: string, topics: Topics, opts: { stream?: StreamName; autoAck?: boolean } = {}): Promise<TestCenter> {
  const stream = opts.stream ?? 'attendance';
  const client = await mqtt.connectAsync(url, { clientId: `center-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 200 });
  const center: TestCenter = {
    client,
    received: [],
    messages: new Map(),
    autoAck: opts.autoAck ?? true,
    ack: async (batch) => {
      await client.publishAsync(topics.ack(stream), JSON.stringify({ v: 1, batch }), { qos: 1 });
    },
    storedIds() {
      const seen = new Set<string>();
      const out: string[] = [];
      for (const b of center.received) for (const r of b.records) if (!seen.has(r.id)) (seen.add(r.id), out.push(r.id));
      return out;
    },
    watch: async (topic) => {
      await client.subscribeAsync(topic, { qos: 1 });
    },
    stop: () => client.endAsync(true),
  };
  client.on('message', (topic, payload) => {
    if (topic === topics.stream(stream)) {
      const msg = JSON.parse(payload.toString()) as { batch: string; records: ReceivedBatch['records'] };
      center.received.push({ batch: msg.batch, records: msg.records, raw: payload });
      if (center.autoAck) void center.ack(msg.batch).catch(() => {});
      return;
    }
    const list = center.messages.get(topic) ?? [];
    list.push(payload);
    center.messages.set(topic, list);
  });
  await client.subscribeAsync(topics.stream(stream), { qos: 1 });
  return center;
}

/** until() with the condition first, as the sync tests call it. */
export const waitFor = (cond: () => boolean, what: string, timeoutMs?: number): Promise<void> => until(what, cond, timeoutMs);
