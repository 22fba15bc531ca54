// Moves one outbox stream to the center: batches of pending rows are published on
// <prefix>/<G>/<stream> and stay in flight until the center acks them on .../<stream>/ack.
//
// Rules kept here:
// - At most batchMax records per batch; a partial batch waits up to lingerMs to fill.
// - At most maxInflightBatches unacked; new batches leave in seq order.
// - On start and on every reconnect, every in-flight batch (read from SQLite) is re-sent first,
//   oldest first, with the same batch id and records; so is any batch unacked after ackTimeoutMs.
// - Only the center's ack settles a batch (a PUBACK only proves the broker took it).
// - No queue in memory: pending rows stay in SQLite; the only in-memory state is the set of
//   in-flight batch ids (bounded by maxInflightBatches, plus those found in flight at start) and
//   the acks received in the current tick, settled together before the next one.
// - Acks come in bursts: they are settled in one transaction per tick, and the slots they free
//   are refilled by one claim of several batches (one commit each, not one per batch).
import { EventEmitter } from 'node:events';
import type { StreamName } from '../types.js';
import type { Outbox, BatchPayloads } from '../outbox/outbox.js';
import type { MqttLink } from '../mqtt/link.js';
import type { Topics } from '../mqtt/topics.js';
import { silentLogger, type SyncLogger } from '../logger.js';
import { parseAck } from './ack-parser.js';

export { batchMessage } from '../outbox/batch-message.js';

export interface UplinkOptions {
  stream: StreamName;
  outbox: Outbox;
  link: MqttLink;
  topics: Topics;
  batchMax: number;
  lingerMs: number;
  maxInflightBatches: number;
  ackTimeoutMs: number;
  logger?: SyncLogger;
}

export interface UplinkStatus {
  stream: StreamName;
  running: boolean;
  inflightBatches: number;
  batchesSent: number;
  batchesResent: number;
  batchesAcked: number;
  recordsAcked: number;
  /** Malformed ack payloads (ignored). */
  badAcks: number;
  /** Well-formed acks for batches not in flight (duplicates, or after a resend settled them). */
  staleAcks: number;
  lastAckAt: string | null;
}

export interface UplinkEvents {
  /** The center acked `batch`; `records` rows were settled (0 for a duplicate ack). */
  settled: [batch: string, records: number];
  /** A batch message was handed to MQTT (resend = same id again). */
  sent: [batch: string, records: number, resend: boolean];
}

interface Inflight {
  sentAt: number;
}

export class Uplink extends EventEmitter<UplinkEvents> {
  private readonly log: SyncLogger;
  private readonly inflight = new Map<string, Inflight>();
  private readonly topic: string;
  private readonly ackTopic: string;
  private running = false;
  private pumpScheduled = false;
  private lingerDeadline: number | null = null;
  private lingerTimer: NodeJS.Timeout | null = null;
  private ackTimer: NodeJS.Timeout | null = null;
  private counters = { batchesSent: 0, batchesResent: 0, batchesAcked: 0, recordsAcked: 0, badAcks: 0, staleAcks: 0 };
  private lastAckAt: string | null = null;
  /** Batch ids acked in this tick, settled together by settleAcks() (setImmediate). */
  private acked: string[] = [];
  private settleScheduled = false;

  private readonly onMessage = (topic: string, payload: Buffer) => {
    if (topic === this.ackTopic) this.handleAck(payload);
  };
  private readonly onConnected = () => this.resendInflight('reconnect');
  private readonly onDisconnected = () => this.clearLinger();

  constructor(private readonly opts: UplinkOptions) {
    super();
    if (opts.batchMax < 1 || opts.maxInflightBatches < 1) throw new RangeError('batchMax and maxInflightBatches must be >= 1');
    this.log = opts.logger ?? silentLogger;
    this.topic = opts.topics.stream(opts.stream);
    this.ackTopic = opts.topics.ack(opts.stream);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const { link } = this.opts;
    link.subscribe(this.ackTopic);
    link.on('message', this.onMessage);
    link.on('connected', this.onConnected);
    link.on('disconnected', this.onDisconnected);
    const period = Math.max(50, Math.min(1000, Math.floor(this.opts.ackTimeoutMs / 4)));
    this.ackTimer = setInterval(() => this.checkAckTimeouts(), period);
    this.ackTimer.unref();
    this.resync();
    if (link.isConnected()) this.resendInflight('start');
  }

  /** New pending rows exist. Cheap: coalesces into one pump on the next tick. */
  notify(): void {
    if (!this.running || this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /**
   * Re-reads which batches are in flight from SQLite (after the outbox was changed behind our
   * back, e.g. sync/resend), then sends whatever is due.
   */
  resync(): void {
    const now = Date.now();
    const known = new Map(this.inflight);
    this.inflight.clear();
    for (const s of this.opts.outbox.inflightSummary(this.opts.stream)) {
      const sentAt = known.get(s.batch)?.sentAt ?? (Date.parse(s.sentAt) || now);
      this.inflight.set(s.batch, { sentAt: Math.min(sentAt, now) });
    }
    this.notify();
  }

  /**
   * A center ack. Malformed payloads are logged and ignored; unknown batches settle nothing.
   * Settling happens at the end of the tick, together with the other acks of the same burst
   * ('settled' is emitted then, once per ack).
   */
  handleAck(payload: Buffer): void {
    const ack = parseAck(payload);
    if (!ack.ok) {
      this.counters.badAcks++;
      this.log.warn({ stream: this.opts.stream, error: ack.error }, 'uplink: ignored malformed ack');
      return;
    }
    this.acked.push(ack.batch);
    if (this.settleScheduled) return;
    this.settleScheduled = true;
    setImmediate(() => {
      this.settleScheduled = false;
      this.settleAcks();
    });
  }

  /**
   * Settles every ack received since the last call and claims batches for the slots they free,
   * in one transaction (one commit per burst of acks, not two); sends the new batches after it.
   */
  private settleAcks(): void {
    if (this.acked.length === 0) return;
    const batches = this.acked;
    this.acked = [];
    const { outbox, stream } = this.opts;
    let settled: number[] = [];
    let taken: BatchPayloads[] = [];
    try {
      outbox.relaxedTransaction(() => {
        settled = outbox.settleMany(stream, batches);
        for (const batch of batches) this.inflight.delete(batch);
        taken = this.claimSafely();
      });
    } catch (err) {
      // Nothing was committed: the rows stay in flight and the batches are re-sent after the ack
      // timeout; the center acks them again. What is in flight is re-read from SQLite.
      this.log.error({ stream, batches, err: (err as Error).message }, 'uplink: could not settle batches');
      this.resync();
      return;
    }
    this.lastAckAt = new Date().toISOString();
    batches.forEach((batch, i) => {
      if (settled[i] > 0) {
        this.counters.batchesAcked++;
        this.counters.recordsAcked += settled[i];
      } else {
        this.counters.staleAcks++;
        this.log.debug({ stream, batch }, 'uplink: ack for unknown or settled batch');
      }
    });
    batches.forEach((batch, i) => this.emit('settled', batch, settled[i]));
    for (const b of taken) this.send(b, false);
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    const { link } = this.opts;
    link.off('message', this.onMessage);
    link.off('connected', this.onConnected);
    link.off('disconnected', this.onDisconnected);
    this.clearLinger();
    if (this.ackTimer) clearInterval(this.ackTimer);
    this.ackTimer = null;
    // Acks already received are settled now, while the store is surely still open.
    this.settleAcks();
  }

  status(): UplinkStatus {
    return { stream: this.opts.stream, running: this.running, inflightBatches: this.inflight.size, ...this.counters, lastAckAt: this.lastAckAt };
  }

  private clearLinger(): void {
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.lingerTimer = null;
    this.lingerDeadline = null;
  }

  /** Re-sends every in-flight batch, oldest first, then continues with new ones. */
  private resendInflight(why: string): void {
    if (!this.running) return;
    this.resync();
    const batches = [...this.inflight.keys()];
    if (batches.length) this.log.info({ stream: this.opts.stream, batches: batches.length, why }, 'uplink: re-sending in-flight batches');
    for (const b of batches) this.resend(b);
    this.pump();
  }

  private resend(batch: string): void {
    if (!this.opts.link.isConnected()) return;
    const { outbox, stream } = this.opts;
    const b = outbox.batchPayloads(stream, batch);
    if (!b) {
      this.inflight.delete(batch); // settled or put back to pending meanwhile
      return;
    }
    outbox.markResent(stream, batch);
    this.inflight.set(batch, { sentAt: Date.now() });
    this.counters.batchesResent++;
    this.send(b, true);
  }

  private checkAckTimeouts(): void {
    if (!this.running || !this.opts.link.isConnected()) return;
    const now = Date.now();
    for (const [batch, f] of [...this.inflight]) {
      if (now - f.sentAt >= this.opts.ackTimeoutMs) {
        this.log.warn({ stream: this.opts.stream, batch }, 'uplink: no ack in time, re-sending batch');
        this.resend(batch);
      }
    }
    // Safety net: rows enqueued without a notify() still leave within one period.
    if (!this.lingerTimer) this.pump();
  }

  /** Fills the free in-flight slots with new batches and sends them. */
  private pump(): void {
    for (const b of this.claimSafely()) this.send(b, false);
  }

  /**
   * Claims batches for the free in-flight slots (they count as in flight from here on); the
   * caller sends them. A failing disk must not kill the process: nothing is claimed, retry later.
   */
  private claimSafely(): BatchPayloads[] {
    try {
      return this.claim();
    } catch (err) {
      this.log.error({ stream: this.opts.stream, err: (err as Error).message }, 'uplink: could not take a batch');
      if (!this.lingerTimer) this.lingerTimer = setTimeout(() => ((this.lingerTimer = null), this.pump()), 1000);
      return [];
    }
  }

  private claim(): BatchPayloads[] {
    const { outbox, stream, batchMax, lingerMs, maxInflightBatches, link } = this.opts;
    const out: BatchPayloads[] = [];
    if (!this.running || !link.isConnected()) return out;
    while (this.inflight.size < maxInflightBatches) {
      const full = outbox.hasPending(stream, batchMax);
      if (!full) {
        if (!outbox.hasPending(stream, 1)) {
          this.clearLinger();
          return out;
        }
        if (lingerMs > 0) {
          const now = Date.now();
          if (this.lingerDeadline === null) this.lingerDeadline = now + lingerMs;
          if (now < this.lingerDeadline) {
            if (!this.lingerTimer) {
              this.lingerTimer = setTimeout(() => {
                this.lingerTimer = null;
                this.pump();
              }, this.lingerDeadline - now);
            }
            return out;
          }
        }
      }
      this.clearLinger();
      // Every free slot in one claim; full batches only while a partial one may still linger.
      const taken = outbox.takeBatches(stream, batchMax, maxInflightBatches - this.inflight.size, { partial: !full });
      if (taken.length === 0) return out;
      const sentAt = Date.now();
      for (const b of taken) {
        this.inflight.set(b.batch, { sentAt });
        this.counters.batchesSent++;
        out.push(b);
      }
    }
    return out;
  }

  private send(b: BatchPayloads, resend: boolean): void {
    this.opts.link.publish(this.topic, b.message, { qos: 1, retain: false }).catch((err: Error) => {
      // Stays in flight: re-sent on reconnect or after the ack timeout.
      this.log.debug({ stream: this.opts.stream, batch: b.batch, err: err.message }, 'uplink: publish not confirmed');
    });
    this.emit('sent', b.batch, b.count, resend);
  }
}
