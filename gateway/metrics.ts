// Prometheus metrics on GET /metrics. Gauges are computed at scrape time from the live objects
// (collect callbacks), so nothing is kept in step by hand.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { STREAMS, type StreamName } from '../sync/types.js';

export interface MetricSources {
  pending(stream: StreamName): number;
  oldestPendingAgeSeconds(stream: StreamName): number | null;
  mqttConnected(): boolean;
  clocks(): { id: string; connected: boolean; framesBad: number }[];
}

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly punches = new Counter({ name: 'tpgw_punches_total', help: 'Punches stored, by clock', labelNames: ['clock'], registers: [this.registry] });
  readonly duplicates = new Counter({ name: 'tpgw_punch_duplicates_total', help: 'Punches received again (device log repeats) and not stored twice', labelNames: ['clock'], registers: [this.registry] });
  readonly storeErrors = new Counter({ name: 'tpgw_punch_store_errors_total', help: 'Punches that could not be committed', labelNames: ['clock'], registers: [this.registry] });

  constructor(src: MetricSources) {
    collectDefaultMetrics({ register: this.registry, prefix: 'tpgw_' });
    new Gauge({
      name: 'tpgw_outbox_pending',
      help: 'Records not yet settled by the center',
      labelNames: ['stream'],
      registers: [this.registry],
      collect() {
        for (const s of STREAMS) this.set({ stream: s }, src.pending(s));
      },
    });
    new Gauge({
      name: 'tpgw_outbox_oldest_pending_seconds',
      help: 'Age of the oldest unsettled record',
      labelNames: ['stream'],
      registers: [this.registry],
      collect() {
        for (const s of STREAMS) this.set({ stream: s }, src.oldestPendingAgeSeconds(s) ?? 0);
      },
    });
    new Gauge({
      name: 'tpgw_mqtt_connected',
      help: '1 while connected to the center broker',
      registers: [this.registry],
      collect() {
        this.set(src.mqttConnected() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'tpgw_clock_connected',
      help: '1 while the clock is connected',
      labelNames: ['clock'],
      registers: [this.registry],
      collect() {
        for (const c of src.clocks()) this.set({ clock: c.id }, c.connected ? 1 : 0);
      },
    });
    new Gauge({
      name: 'tpgw_clock_frames_bad',
      help: 'Malformed frames received from the clock since start',
      labelNames: ['clock'],
      registers: [this.registry],
      collect() {
        for (const c of src.clocks()) this.set({ clock: c.id }, c.framesBad);
      },
    });
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
