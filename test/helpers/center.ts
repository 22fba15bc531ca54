// A test training center: subscribes to a gateway's uplink stream, records every record it
// receives (with duplicates, so tests can check dedupe and order) and acks batches unless told
// not to (an outage).
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

export interface ReceivedRecord {
  id: string;
  seq: number;
  [k: string]: unknown;
}

export class TestCenter {
  client!: MqttClient;
  acking = true;
  readonly received: ReceivedRecord[] = [];
  readonly batches: { batch: string; ids: string[] }[] = [];
  readonly byId = new Map<string, ReceivedRecord>();
  statuses: unknown[] = [];

  constructor(
    private readonly url: string,
    private readonly gateway: string,
    private readonly stream = 'attendance',
    private readonly prefix = 'tpgw',
    /** Extra mqtt.js options, e.g. the CA and client certificate for a TLS broker. */
    private readonly connectOptions: IClientOptions = {},
  ) {}

  async start(): Promise<void> {
    this.client = await mqtt.connectAsync(this.url, { ...this.connectOptions, clientId: `center-${this.stream}-${process.pid}-${Math.random()}`, clean: true });
    const topic = `${this.prefix}/${this.gateway}/${this.stream}`;
    this.client.on('message', (t, payload) => {
      if (t === `${this.prefix}/${this.gateway}/status`) {
        this.statuses.push(JSON.parse(payload.toString()));
        return;
      }
      if (t !== topic) return;
      const msg = JSON.parse(payload.toString()) as { batch: string; records: ReceivedRecord[] };
      this.batches.push({ batch: msg.batch, ids: msg.records.map((r) => r.id) });
      for (const r of msg.records) {
        this.received.push(r);
        if (!this.byId.has(r.id)) this.byId.set(r.id, r);
      }
      if (this.acking) this.client.publish(`${topic}/ack`, JSON.stringify({ v: 1, batch: msg.batch }), { qos: 1 });
    });
    await this.client.subscribeAsync([topic, `${this.prefix}/${this.gateway}/status`], { qos: 1 });
  }

  /** Ids in the order the center first saw them. */
  firstSeenOrder(): string[] {
    return [...this.byId.keys()];
  }

  async waitFor(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async stop(): Promise<void> {
    await this.client.endAsync();
  }
}
