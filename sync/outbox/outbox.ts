// The outbox is the only uplink queue: every record the center must receive is a row here, from
// the moment it is stored until the center acks the batch that carried it.
//
// State per record:  pending -> in flight (in a named batch) -> settled (center acked).
// Rows are written once and never rewritten. Batches always take the oldest pending rows, so the
// pending rows are exactly those above a per-stream cursor (stream_meta.claimed_seq), and each
// batch is a seq range recorded in outbox_batches (ranges never overlap). Claiming or settling
// 500 records is one small row, and a batch message is the stored JSON joined with commas.
//
// Durability: records are added inside the caller's synchronous=FULL transaction (a punch is on
// disk before append() returns). Claims and settlements commit with synchronous=NORMAL: WAL keeps
// them atomic and a process crash loses none; a power cut may roll back the latest ones, which
// only means a batch is sent again (same record ids; the center deduplicates and re-acks).
// Batch ids are stored, so after a restart an in-flight batch is re-sent with the same id.
//
// Drain cost: SQLite assembles each whole batch message (envelope + joined records) in the read
// itself, so the uplink publishes the Buffer it gets, no extra copy; several claims (takeBatches)
// and several settlements (settleMany) share one transaction when they come together.
import { randomBytes } from 'node:crypto';
import type { Database, Statement } from 'better-sqlite3';
import type { OutboxState, StreamName, StreamStats, WireRecord } from '../types.js';
import { batchMessage, batchMessageHead, BATCH_MESSAGE_TAIL } from './batch-message.js';

export interface OutboxRecordInput {
  recordId: string;
  /** Records sharing an order key (e.g. one clock) reach the center in seq order. */
  orderKey: string;
  /** The wire record, or a function building it from the seq the record gets. */
  payload: object | ((seq: number) => object);
  /** Use this seq instead of the stream counter (attendance uses the punch seq). */
  seq?: number;
}

export interface PendingRow {
  seq: number;
  /** The wire record as JSON text. */
  payload: string;
}

export interface InflightBatch {
  batch: string;
  records: WireRecord[];
  sentAt: string;
}

/** A batch as the uplink sends it: its id plus the pre-serialised records, in seq order. */
export interface BatchPayloads {
  batch: string;
  firstSeq: number;
  lastSeq: number;
  /** Number of records. */
  count: number;
  sentAt: string;
  attempts: number;
  /**
   * The whole batch message as published (`{"v":1,"batch":...,"records":[...]}`), assembled by
   * SQLite: one buffer per batch instead of one JS string per record.
   */
  message: Buffer;
  /**
   * The records' JSON joined with commas, in seq order (the inside of the `records` array): a
   * view into `message`, not a copy.
   */
  body: Buffer;
}

export interface TakeBatchesOptions {
  now?: Date;
  /**
   * Whether a batch of fewer than `max` records may be taken (default true). With false, taking
   * stops at the first batch that would not be full (the uplink lets it linger to fill).
   */
  partial?: boolean;
}

/** The records of a batch, parsed (tests, audit; the uplink never parses). */
export function batchRecords(b: BatchPayloads): WireRecord[] {
  return b.count === 0 ? [] : (JSON.parse(`[${b.body.toString()}]`) as WireRecord[]);
}

/** An in-flight batch without its bytes (what resync needs). */
export type InflightSummary = Omit<BatchPayloads, 'message' | 'body'>;

export interface RecordState {
  seq: number;
  state: OutboxState;
  batch: string | null;
  settledAt: string | null;
}

const INFLIGHT = 1;
const SETTLED = 2;

interface MessageRow {
  n: number;
  /** Null when no record matched. */
  message: Buffer | null;
}

interface PendingMessageRow extends MessageRow {
  firstSeq: number | null;
  lastSeq: number | null;
}

/** Splits an assembled message into the BatchPayloads views (message and records body). */
function payloads(
  batch: string,
  head: string,
  row: MessageRow & { firstSeq: number; lastSeq: number },
  sentAt: string,
  attempts: number,
): BatchPayloads {
  const message = row.message ?? batchMessage(batch, Buffer.alloc(0));
  // SQLite put the envelope on the first and last rows of the range: if either row were
  // missing, the message would lack it. Never send such a message (cheap: ~50 bytes compared).
  if (
    message.length < head.length + BATCH_MESSAGE_TAIL.length ||
    message.toString('latin1', 0, head.length) !== head ||
    message.toString('latin1', message.length - BATCH_MESSAGE_TAIL.length) !== BATCH_MESSAGE_TAIL
  ) {
    throw new Error(`outbox: batch ${batch} (${row.firstSeq}..${row.lastSeq}) did not assemble into a whole message`);
  }
  return {
    batch,
    firstSeq: row.firstSeq,
    lastSeq: row.lastSeq,
    count: row.n,
    sentAt,
    attempts,
    message,
    body: message.subarray(head.length, message.length - BATCH_MESSAGE_TAIL.length),
  };
}

interface BatchRow {
  batch: string;
  first_seq: number;
  last_seq: number;
  records: number;
  state: number;
  sent_at: string;
  attempts: number;
  settled_at: string | null;
}

function counterName(stream: StreamName): string {
  return `outbox:${stream}`;
}

export class Outbox {
  private readonly st: ReturnType<typeof prepare>;
  private readonly rowStatements: Record<StreamName, RowStatements>;

  constructor(private readonly db: Database) {
    this.st = prepare(db);
    this.rowStatements = {
      attendance: prepareRows(db, 'attendance'),
      recordings: prepareRows(db, 'recordings'),
      corrections: prepareRows(db, 'corrections'),
    };
  }

  /** The statements on one stream's table (a stream outside the closed set is a bug: throw). */
  private rows(stream: StreamName): RowStatements {
    const r = this.rowStatements[stream];
    if (!r) throw new Error(`outbox: unknown stream ${JSON.stringify(stream)}`);
    return r;
  }

  /**
   * Adds a record as pending and returns its seq. Gap-free per stream: the counter is bumped in
   * the same transaction (callers wrap it in theirs, e.g. PunchStore.append).
   */
  enqueue(stream: StreamName, rec: OutboxRecordInput): number {
    return this.db.transaction(() => {
      let seq: number;
      if (rec.seq === undefined) {
        seq = Number((this.st.bump.get(counterName(stream)) as { value: number }).value);
      } else {
        if (!Number.isSafeInteger(rec.seq) || rec.seq < 1) throw new RangeError(`outbox seq must be a positive integer, got ${rec.seq}`);
        seq = rec.seq;
        this.st.raiseCounter.run(counterName(stream), seq, seq);
      }
      // A record below the cursor would silently count as part of an old batch.
      if (seq <= this.claimed(stream)) throw new RangeError(`outbox seq ${seq} is not above the last claimed seq of ${stream}`);
      const payload = typeof rec.payload === 'function' ? rec.payload(seq) : rec.payload;
      this.rows(stream).insert.run(seq, rec.recordId, rec.orderKey, JSON.stringify(payload), new Date().toISOString());
      return seq;
    })();
  }

  /**
   * Replaces the payload of a record that is still pending (in no batch yet, so never sent: the
   * change is invisible to the protocol). Used when a punch's time is corrected before it left.
   * Throws, changing nothing, if the record is not pending.
   */
  rewritePending(stream: StreamName, seq: number, payload: object): void {
    const n = this.rows(stream).rewrite.run(JSON.stringify(payload), seq, this.claimed(stream)).changes;
    if (n !== 1) throw new Error(`rewritePending: ${stream} record ${seq} is not pending`);
  }

  /** True when the record is stored and in no batch yet. */
  isPending(stream: StreamName, seq: number): boolean {
    return seq > this.claimed(stream) && (this.rows(stream).countRange.get(seq, seq) as { n: number }).n === 1;
  }

  /** Oldest pending rows first, at most `max`. */
  takePending(stream: StreamName, max: number): PendingRow[] {
    return this.rows(stream).pendingRows.all(this.claimed(stream), Math.max(0, Math.trunc(max))) as PendingRow[];
  }

  /**
   * Takes up to `max` oldest pending rows as a new in-flight batch, in one transaction.
   * Returns null when nothing is pending.
   */
  takeBatch(stream: StreamName, max: number, now: Date = new Date()): BatchPayloads | null {
    return this.takeBatches(stream, max, 1, { now })[0] ?? null;
  }

  /**
   * Takes up to `k` consecutive batches of up to `max` oldest pending rows each, in seq order, in
   * one transaction (one commit for a burst of claims). Returns [] when nothing is pending.
   */
  takeBatches(stream: StreamName, max: number, k: number, opts: TakeBatchesOptions = {}): BatchPayloads[] {
    const limit = Math.max(0, Math.trunc(max));
    const count = Math.max(0, Math.trunc(k));
    if (limit === 0 || count === 0) return [];
    const sentAt = (opts.now ?? new Date()).toISOString();
    const partial = opts.partial ?? true;
    const rows = this.rows(stream);
    return this.relaxed(() => {
      const out: BatchPayloads[] = [];
      let claimed = this.claimed(stream);
      while (out.length < count) {
        // The batch id names its first seq and SQLite writes the id into the message, so the
        // first seq is settled before the read. Seqs are gap-free, so the next batch is nearly
        // always exactly the range after the cursor: read that range, and when it is not full
        // (the tail of the queue, or holes left by pruning below a resend) read the general way.
        let firstSeq = claimed + 1;
        let batch = newBatchId(stream, firstSeq);
        let head = batchMessageHead(batch);
        let lastSeq = claimed + limit;
        let row = rows.rangeMessage.get({ first: firstSeq, last: lastSeq, head, tail: BATCH_MESSAGE_TAIL }) as MessageRow;
        if (row.n !== limit) {
          const first = rows.nthPending.get(claimed, 0) as { seq: number } | undefined;
          if (!first) break;
          if (first.seq !== firstSeq) {
            firstSeq = first.seq;
            batch = newBatchId(stream, firstSeq);
            head = batchMessageHead(batch);
          }
          const general = rows.pendingMessage.get({ after: claimed, max: limit, head, tail: BATCH_MESSAGE_TAIL }) as PendingMessageRow;
          if (general.n === 0 || general.firstSeq !== firstSeq || general.lastSeq === null) {
            throw new Error(`takeBatches: ${stream} changed under a read (first pending ${firstSeq}, read ${general.firstSeq})`);
          }
          row = general;
          lastSeq = general.lastSeq;
        }
        if (row.n < limit && !partial) break;
        this.st.insertBatch.run(stream, batch, firstSeq, lastSeq, row.n, sentAt);
        out.push(payloads(batch, head, { firstSeq, lastSeq, n: row.n, message: row.message }, sentAt, 1));
        claimed = lastSeq;
        if (row.n < limit) break; // nothing more is pending
      }
      if (out.length > 0) this.st.setClaimed.run(stream, claimed);
      return out;
    });
  }

  /**
   * Claims the given seqs as batch `batch`. They must be the oldest pending rows, in order
   * (batches are always the head of the queue); anything else throws and changes nothing.
   */
  claim(stream: StreamName, batch: string, seqs: number[]): void {
    if (seqs.length === 0) return;
    this.relaxed(() => {
      const head = this.takePending(stream, seqs.length).map((r) => r.seq);
      if (head.length !== seqs.length || head.some((s, i) => s !== seqs[i])) {
        throw new Error(`claim: seqs [${seqs.slice(0, 5).join(',')}${seqs.length > 5 ? ',…' : ''}] are not the oldest pending rows of ${stream}`);
      }
      this.st.insertBatch.run(stream, batch, head[0], head[head.length - 1], head.length, new Date().toISOString());
      this.st.setClaimed.run(stream, head[head.length - 1]);
    });
  }

  /** True when at least `n` rows are pending (an index seek, not a count). */
  hasPending(stream: StreamName, n: number): boolean {
    if (n <= 0) return true;
    return this.rows(stream).nthPending.get(this.claimed(stream), n - 1) !== undefined;
  }

  /** The in-flight batch's records as stored (same ids, same order); null if it is not in flight. */
  batchPayloads(stream: StreamName, batch: string): BatchPayloads | null {
    const b = this.st.batch.get(stream, batch) as BatchRow | undefined;
    if (!b || b.state !== INFLIGHT) return null;
    const head = batchMessageHead(batch);
    const r = this.rows(stream).rangeMessage.get({ first: b.first_seq, last: b.last_seq, head, tail: BATCH_MESSAGE_TAIL }) as MessageRow;
    return payloads(batch, head, { ...r, firstSeq: b.first_seq, lastSeq: b.last_seq }, b.sent_at, b.attempts);
  }

  /** Records a re-send of an in-flight batch (sent_at, attempts). Returns 1, or 0 if not in flight. */
  markResent(stream: StreamName, batch: string, now: Date = new Date()): number {
    return this.relaxed(() => this.st.markResent.run(now.toISOString(), stream, batch).changes);
  }

  /** In-flight batches, oldest first, without their payloads. */
  inflightSummary(stream: StreamName): InflightSummary[] {
    return (this.st.inflight.all(stream) as BatchRow[]).map((b) => ({
      batch: b.batch, firstSeq: b.first_seq, lastSeq: b.last_seq, count: b.records, sentAt: b.sent_at, attempts: b.attempts,
    }));
  }

  /** In-flight batches with their records parsed, oldest first. */
  inflightBatches(stream: StreamName): InflightBatch[] {
    return this.inflightSummary(stream).map((s) => ({
      batch: s.batch,
      sentAt: s.sentAt,
      records: (this.rows(stream).rangePayloads.all(s.firstSeq, s.lastSeq) as string[]).map((x) => JSON.parse(x) as WireRecord),
    }));
  }

  /**
   * The center acked `batch`: its records become settled; returns how many. Unknown or already
   * settled batches change nothing but the last-ack time and return 0 (acks may repeat).
   */
  settle(stream: StreamName, batch: string, now: Date = new Date()): number {
    return this.settleMany(stream, [batch], now)[0];
  }

  /**
   * settle() for several acks at once, in one transaction (acks arrive in bursts). Returns the
   * records settled per batch, in the order given: a batch named twice settles once (then 0).
   */
  settleMany(stream: StreamName, batches: readonly string[], now: Date = new Date()): number[] {
    if (batches.length === 0) return [];
    return this.relaxed(() => {
      const iso = now.toISOString();
      this.st.touchAck.run(stream, iso);
      return batches.map((batch) => {
        const b = this.st.batch.get(stream, batch) as BatchRow | undefined;
        if (!b || b.state !== INFLIGHT) return 0;
        this.st.settle.run(iso, stream, batch);
        return b.records;
      });
    });
  }

  /**
   * Puts every in-flight or settled record with seq >= fromSeq back to pending (they will be
   * sent again in new batches). Returns how many records were re-queued.
   */
  resendFrom(stream: StreamName, fromSeq: number): number {
    return this.db.transaction(() => {
      const claimed = this.claimed(stream);
      const from = Math.max(1, Math.trunc(fromSeq));
      if (from > claimed) return 0;
      const n = (this.rows(stream).countRange.get(from, claimed) as { n: number }).n;
      this.st.deleteBatchesFrom.run(stream, from);
      // The batch straddling `from` keeps only its lower part (its records below `from`).
      const straddling = this.st.batchAt.get(stream, from) as BatchRow | undefined;
      if (straddling && straddling.last_seq >= from) {
        const kept = (this.rows(stream).countRange.get(straddling.first_seq, from - 1) as { n: number }).n;
        this.st.truncateBatch.run(from - 1, kept, stream, straddling.batch);
      }
      this.st.setClaimed.run(stream, from - 1);
      return n;
    })();
  }

  pendingCount(stream: StreamName): number {
    return (this.rows(stream).countAbove.get(this.claimed(stream)) as { n: number }).n;
  }

  /** State of each stored record from `fromSeq` on, in seq order (audit, tests). */
  states(stream: StreamName, fromSeq = 1, limit = 1000): RecordState[] {
    return this.statesOf(stream, this.rows(stream).seqsFrom.all(fromSeq, limit) as number[]);
  }

  /** State of the given records (cheapest when seqs are ascending). */
  statesOf(stream: StreamName, seqs: readonly number[]): RecordState[] {
    const claimed = this.claimed(stream);
    let b: BatchRow | undefined;
    return seqs.map((seq): RecordState => {
      if (seq > claimed) return { seq, state: 'pending', batch: null, settledAt: null };
      if (!b || seq < b.first_seq || seq > b.last_seq) b = this.st.batchAt.get(stream, seq) as BatchRow | undefined;
      // Below the cursor every record is in a batch; "pending" is only a fallback for a
      // record that would not be (it will never be sent again unless resendFrom reaches it).
      if (!b || seq > b.last_seq) return { seq, state: 'pending', batch: null, settledAt: null };
      return { seq, state: b.state === SETTLED ? 'settled' : 'inflight', batch: b.batch, settledAt: b.settled_at };
    });
  }

  stats(stream: StreamName, now: Date = new Date()): StreamStats {
    const claimed = this.claimed(stream);
    const rows = this.rows(stream);
    const pending = (rows.countAbove.get(claimed) as { n: number }).n;
    const inflightRows = this.st.inflight.all(stream) as BatchRow[];
    const inflight = inflightRows.reduce((s, b) => s + b.records, 0);
    const upToClaimed = (rows.countRange.get(1, claimed) as { n: number }).n;
    // The oldest unsettled record is the first of the oldest in-flight batch, else the first pending.
    const from = inflightRows.length ? inflightRows[0].first_seq : claimed + 1;
    const oldest = (rows.firstCreatedFrom.get(from) as { created_at: string } | undefined)?.created_at;
    const meta = this.st.meta.get(stream) as { last_ack_at: string | null } | undefined;
    const last = this.st.counter.get(counterName(stream)) as { value: number } | undefined;
    return {
      stream,
      pending,
      inflight,
      settled: upToClaimed - inflight,
      oldestPendingAgeSeconds: oldest === undefined ? null : Math.max(0, (now.getTime() - Date.parse(oldest)) / 1000),
      lastAckAt: meta?.last_ack_at ?? null,
      lastSeq: last ? Number(last.value) : 0,
    };
  }

  /**
   * Deletes records (and their punches) of batches settled more than keepSettledDays ago.
   * Pending and in-flight records are never touched, whatever their age or number. Counters are
   * untouched, so sequences stay gap-free and never reuse a number. Returns records deleted.
   */
  prune(now: Date, keepSettledDays: number): number {
    const cutoff = new Date(now.getTime() - keepSettledDays * 86_400_000).toISOString();
    return this.db.transaction(() => {
      let deleted = 0;
      for (const b of this.st.oldSettled.all(cutoff) as (BatchRow & { stream: StreamName })[]) {
        // Defence in depth: never below the cursor's reach, i.e. never a pending row.
        const last = Math.min(b.last_seq, this.claimed(b.stream));
        if (b.stream === 'attendance') this.st.prunePunches.run(b.first_seq, last);
        deleted += this.rows(b.stream).pruneRows.run(b.first_seq, last).changes;
        this.st.deleteBatch.run(b.stream, b.batch);
      }
      return deleted;
    })();
  }

  private claimed(stream: StreamName): number {
    return (this.st.claimed.get(stream) as { claimed_seq: number } | undefined)?.claimed_seq ?? 0;
  }

  /**
   * Runs fn as one transaction committed with synchronous=NORMAL, so that settlements and the
   * claims refilling their slots share one commit. Only for claims and settlements: a record
   * enqueued inside would not be durable on power loss before the next FULL commit.
   */
  relaxedTransaction<T>(fn: () => T): T {
    return this.relaxed(fn);
  }

  /** Runs fn in a transaction committed with synchronous=NORMAL (see the header comment). */
  private relaxed<T>(fn: () => T): T {
    if (this.db.inTransaction) return this.db.transaction(fn)();
    this.db.pragma('synchronous = NORMAL');
    try {
      return this.db.transaction(fn)();
    } finally {
      this.db.pragma('synchronous = FULL');
    }
  }
}

function prepare(db: Database) {
  const p = <A extends unknown[]>(sql: string): Statement<A> => db.prepare<A>(sql);
  return {
    bump: p<[string]>(
      'INSERT INTO counters(name, value) VALUES (?, 1) ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value',
    ),
    raiseCounter: p<[string, number, number]>(
      'INSERT INTO counters(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = max(value, ?)',
    ),
    counter: p<[string]>('SELECT value FROM counters WHERE name = ?'),
    claimed: p<[string]>('SELECT claimed_seq FROM stream_meta WHERE stream = ?'),
    setClaimed: p<[string, number]>(
      'INSERT INTO stream_meta(stream, claimed_seq) VALUES (?, ?) ON CONFLICT(stream) DO UPDATE SET claimed_seq = excluded.claimed_seq',
    ),
    meta: p<[string]>('SELECT last_ack_at FROM stream_meta WHERE stream = ?'),
    touchAck: p<[string, string]>(
      'INSERT INTO stream_meta(stream, last_ack_at) VALUES (?, ?) ON CONFLICT(stream) DO UPDATE SET last_ack_at = excluded.last_ack_at',
    ),
    insertBatch: p<[string, string, number, number, number, string]>(
      'INSERT INTO outbox_batches(stream, batch, first_seq, last_seq, records, state, sent_at, attempts) VALUES (?, ?, ?, ?, ?, 1, ?, 1)',
    ),
    batch: p<[string, string]>('SELECT * FROM outbox_batches WHERE stream = ? AND batch = ?'),
    batchAt: p<[string, number]>('SELECT * FROM outbox_batches WHERE stream = ? AND first_seq <= ? ORDER BY first_seq DESC LIMIT 1'),
    inflight: p<[string]>('SELECT * FROM outbox_batches WHERE stream = ? AND state = 1 ORDER BY first_seq'),
    markResent: p<[string, string, string]>(
      'UPDATE outbox_batches SET sent_at = ?, attempts = attempts + 1 WHERE stream = ? AND batch = ? AND state = 1',
    ),
    settle: p<[string, string, string]>('UPDATE outbox_batches SET state = 2, settled_at = ? WHERE stream = ? AND batch = ? AND state = 1'),
    deleteBatchesFrom: p<[string, number]>('DELETE FROM outbox_batches WHERE stream = ? AND first_seq >= ?'),
    truncateBatch: p<[number, number, string, string]>('UPDATE outbox_batches SET last_seq = ?, records = ? WHERE stream = ? AND batch = ?'),
    oldSettled: p<[string]>('SELECT * FROM outbox_batches WHERE state = 2 AND settled_at < ? ORDER BY stream, first_seq'),
    prunePunches: p<[number, number]>('DELETE FROM punches WHERE seq BETWEEN ? AND ?'),
    deleteBatch: p<[string, string]>('DELETE FROM outbox_batches WHERE stream = ? AND batch = ?'),
  };
}

/** Each stream's records live in their own table, keyed by seq (migration 3). */
const OUTBOX_TABLES: Record<StreamName, string> = {
  attendance: 'outbox_attendance',
  recordings: 'outbox_recordings',
  corrections: 'outbox_corrections', // migration 4
};

type RowStatements = ReturnType<typeof prepareRows>;

/** The statements on one stream's table (the table name comes from the closed map above). */
function prepareRows(db: Database, stream: StreamName) {
  const t = OUTBOX_TABLES[stream];
  const p = <A extends unknown[]>(sql: string): Statement<A> => db.prepare<A>(sql);
  return {
    insert: p<[number, string, string, string, string]>(`INSERT INTO ${t}(seq, record_id, order_key, payload, created_at) VALUES (?, ?, ?, ?, ?)`),
    pendingRows: p<[number, number]>(`SELECT seq, payload FROM ${t} WHERE seq > ? ORDER BY seq LIMIT ?`),
    nthPending: p<[number, number]>(`SELECT seq FROM ${t} WHERE seq > ? ORDER BY seq LIMIT 1 OFFSET ?`),
    countAbove: p<[number]>(`SELECT count(*) AS n FROM ${t} WHERE seq > ?`),
    countRange: p<[number, number]>(`SELECT count(*) AS n FROM ${t} WHERE seq BETWEEN ? AND ?`),
    seqsFrom: p<[number, number]>(`SELECT seq FROM ${t} WHERE seq >= ? ORDER BY seq LIMIT ?`).pluck(),
    // SQLite joins the records. A range of the rowid (seq) is read by one cursor walking the
    // table's B-tree forward, so the aggregate sees the rows in seq order and the concatenation is
    // in seq order (tests check it; nothing here sets PRAGMA reverse_unordered_selects). An
    // ORDER BY inside group_concat would say the same but costs a sort of every batch (2.5x), and
    // an ordered subquery copies every payload once more on its way to the aggregate (+20%).
    // The envelope goes on the first and last record inside the aggregate rather than around its
    // result: `head || group_concat(..) || tail` copies the whole message twice more, and a drain
    // shares memory bandwidth with the broker (-15% read time). The cast hands the message to JS
    // as a Buffer: no UTF-8 decoding into a JS string and back. The general read
    // (pendingMessage) needs its LIMIT, hence the subquery and the plain envelope there.
    pendingMessage: p<[{ after: number; max: number; head: string; tail: string }]>(
      `SELECT min(seq) AS firstSeq, max(seq) AS lastSeq, count(*) AS n,
         CAST(@head || group_concat(payload, ',') || @tail AS BLOB) AS message
       FROM (SELECT seq, payload FROM ${t} WHERE seq > @after ORDER BY seq LIMIT @max)`,
    ),
    rangeMessage: p<[{ first: number; last: number; head: string; tail: string }]>(
      `SELECT count(*) AS n, CAST(group_concat(
           CASE seq
             WHEN @first THEN @head || payload || (CASE WHEN @first = @last THEN @tail ELSE '' END)
             WHEN @last THEN payload || @tail
             ELSE payload
           END, ',') AS BLOB) AS message
       FROM ${t} WHERE seq BETWEEN @first AND @last`,
    ),
    rangePayloads: p<[number, number]>(`SELECT payload FROM ${t} WHERE seq BETWEEN ? AND ? ORDER BY seq`).pluck(),
    firstCreatedFrom: p<[number]>(`SELECT created_at FROM ${t} WHERE seq >= ? ORDER BY seq LIMIT 1`),
    pruneRows: p<[number, number]>(`DELETE FROM ${t} WHERE seq BETWEEN ? AND ?`),
    rewrite: p<[string, number, number]>(`UPDATE ${t} SET payload = ? WHERE seq = ? AND seq > ?`),
  };
}

/**
 * `<stream>-<firstSeq>-<random>`: readable in logs (where the batch starts), unique across
 * restarts and re-queues (the random part). No lastSeq: the id is needed before the read that
 * finds where the batch ends, since SQLite writes the id into the message.
 */
export function newBatchId(stream: StreamName, firstSeq: number): string {
  return `${stream}-${firstSeq}-${randomHex8()}`;
}

// Random bytes drawn 1 KB at a time: one call into the CSPRNG per 256 ids, not one per batch
// (each call costs ~25 us, as much as a drain spends on a batch's bookkeeping).
let pool = Buffer.alloc(0);
let poolAt = 0;
function randomHex8(): string {
  if (poolAt + 4 > pool.length) {
    pool = randomBytes(1024);
    poolAt = 0;
  }
  poolAt += 4;
  return pool.toString('hex', poolAt - 4, poolAt);
}
