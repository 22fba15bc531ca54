// A stand-in for the training center: stores every batch it receives (deduplicating on record
// id, as the real center must) and acks it on <topic>/ack. Demo mode runs it in-process.
import mqtt, { type MqttClient } from 'mqtt';
import { STREAMS } from '../../sync/types.js';

export interface CenterStats {
  batches: number;
  records: number;
  unique: number;
}

export class SimulatedCenter {
  private client?: MqttClient;
  private readonly seen = new Set<string>();
  readonly stats: Record<string, CenterStats> = {};

  constructor(
    private readonly url: string,
    private readonly prefix = 'tpgw',
    private readonly onBatch?: (stream: string, gateway: string, batch: string, count: number, fresh: number) => void,
  ) {}

  async start(): Promise<void> {
    this.client = await mqtt.connectAsync(this.url, { clientId: `tpgw-demo-center-${process.pid}`, reconnectPeriod: 1000 });
    this.client.on('message', (topic, payload) => this.handle(topic, payload));
    await this.client.subscribeAsync(STREAMS.map((s) => `${this.prefix}/+/${s}`), { qos: 1 });
  }

  private handle(topic: string, payload: Buffer): void {
    const [, gateway, stream] = topic.split('/');
    let msg: { batch?: unknown; records?: { id?: unknown }[] };
    try {
      msg = JSON.parse(payload.toString('utf8'));
    } catch {
      return;
    }
    if (typeof msg.batch !== 'string' || !Array.isArray(msg.records)) return;
    const s = (this.stats[stream] ??= { batches: 0, records: 0, unique: 0 });
    let fresh = 0;
    for (const r of msg.records) {
      const key = `${stream}:${String(r.id)}`;
      if (!this.seen.has(key)) {
        this.seen.add(key);
        fresh++;
      }
    }
    s.batches++;
    s.records += msg.records.length;
    s.unique += fresh;
    // Stored (here: in memory) first, acked second: the gateway settles only on this ack.
    this.client!.publish(`${topic}/ack`, JSON.stringify({ v: 1, batch: msg.batch }), { qos: 1 });
    this.onBatch?.(stream, gateway, msg.batch, msg.records.length, fresh);
  }

  async stop(): Promise<void> {
    await this.client?.endAsync();
  }
}
