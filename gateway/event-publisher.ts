// Alarms for the center on tpgw/G/event (clock offline, camera offline, disk low, clock
// unsynced). Events are not settled like attendance: they describe the present. While the link
// is down the latest ones wait in a small bounded buffer and go out on reconnect, oldest first.
import type { Logger } from './logger.js';

export interface GatewayEvent {
  type: string;
  clock?: string;
  camera?: string;
  message: string;
  detail?: Record<string, unknown>;
}

export interface EventLink {
  isConnected(): boolean;
  publish(topic: string, payload: string, opts: { qos: 0 | 1 | 2; retain: boolean }): Promise<void>;
}

export class EventPublisher {
  private readonly waiting: string[] = [];
  readonly recent: (GatewayEvent & { time: string })[] = [];

  constructor(
    private readonly link: EventLink,
    private readonly topic: string,
    private readonly log: Logger,
    private readonly maxWaiting = 200,
  ) {}

  emit(ev: GatewayEvent): void {
    const time = new Date().toISOString();
    this.recent.push({ ...ev, time });
    if (this.recent.length > 50) this.recent.shift();
    this.log.info({ event: ev }, `event ${ev.type}: ${ev.message}`);
    const payload = JSON.stringify({ v: 1, time, ...ev });
    if (this.link.isConnected()) this.send(payload);
    else {
      this.waiting.push(payload);
      if (this.waiting.length > this.maxWaiting) this.waiting.shift();
    }
  }

  /** Called when the link (re)connects. */
  flush(): void {
    while (this.waiting.length && this.link.isConnected()) this.send(this.waiting.shift()!);
  }

  private send(payload: string): void {
    this.link.publish(this.topic, payload, { qos: 1, retain: false }).catch((err: Error) => {
      this.log.warn({ err: err.message }, 'event not published');
    });
  }
}
