// Punches: the evidence of who was present. append() is the only way in, and it is one
// transaction: dedupe check, gap-free seq, the punch row, and its outbox row. The connection runs
// with synchronous=FULL, so when append() returns the punch is on disk and the device may be
// answered. Pruning removes old settled rows but never resets the counter, so no id is reused.
import type { Database, Statement } from 'better-sqlite3';
import type { AppendResult, NewPunch, StoredPunch, VerifyText } from '../types.js';
import type { Outbox, RecordState } from '../outbox/outbox.js';

export interface PunchQuery {
  /** Only punches with seq > sinceSeq. */
  sinceSeq?: number;
  /** Only punches whose time is at or after this ISO instant. */
  since?: string;
  /** Default 100, at most 10,000. */
  limit?: number;
}

/** A row of the punches table as SELECT_PUNCHES reads it. */
export interface PunchRow {
  seq: number;
  id: string;
  clock: string;
  user: string;
  person: string | null;
  session: string | null;
  verify: string;
  time: string;
  received_at: string;
  clock_synced: number;
  mono_ns: string;
  boot_id: string;
  raw: string;
  extra: string | null;
}

const COUNTER = 'punch';
/** Same rule as IsoTime in sync/contract/asyncapi.yaml. */
const ISO_WITH_OFFSET = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$/;
export const SELECT_PUNCHES = `SELECT p.seq, p.id, p.clock, p.user, p.person, p.session, p.verify, p.time, p.received_at,
  p.clock_synced, p.mono_ns, p.boot_id, p.raw, p.extra FROM punches p`;

/** The record the center receives for a punch (inside `{"v":1,"batch":..,"records":[...]}`). */
export function punchWireRecord(id: string, seq: number, p: NewPunch): Record<string, unknown> & { id: string; seq: number } {
  const rec: Record<string, unknown> & { id: string; seq: number } = {
    id,
    seq,
    clock: p.clock,
    user: p.user,
    time: p.time,
    verify: p.verify,
    clockSynced: p.clockSynced,
    receivedAt: p.receivedAt,
    bootId: p.bootId,
    monoNs: p.monoNs.toString(),
  };
  if (p.person !== undefined) rec.person = p.person;
  if (p.session !== undefined) rec.session = p.session;
  if (p.extra !== undefined) rec.extra = p.extra;
  return rec;
}

/** The punch as it was appended, read back from its row. */
export function punchFromRow(r: PunchRow): NewPunch {
  return {
    clock: r.clock,
    user: r.user,
    verify: r.verify as VerifyText,
    time: r.time,
    receivedAt: r.received_at,
    clockSynced: r.clock_synced === 1,
    monoNs: BigInt(r.mono_ns),
    bootId: r.boot_id,
    raw: r.raw,
    ...(r.person !== null ? { person: r.person } : {}),
    ...(r.session !== null ? { session: r.session } : {}),
    ...(r.extra !== null ? { extra: JSON.parse(r.extra) as Record<string, unknown> } : {}),
  };
}

export class PunchStore {
  private readonly st: {
    byKey: Statement<[string]>;
    insertKey: Statement<[string, number, string]>;
    keyState: Statement<[string]>;
    bump: Statement<[string]>;
    insert: Statement<unknown[]>;
    get: Statement<[string]>;
    count: Statement<[]>;
    lastSeq: Statement<[string]>;
  };
  private readonly appendTx: (p: NewPunch) => AppendResult;

  constructor(
    private readonly db: Database,
    private readonly gatewayId: string,
    private readonly outbox: Outbox,
  ) {
    this.st = {
      byKey: db.prepare('SELECT seq, id FROM punch_keys WHERE dedupe_key = ?'),
      insertKey: db.prepare('INSERT INTO punch_keys(dedupe_key, seq, id) VALUES (?, ?, ?)'),
      keyState: db.prepare('SELECT k.seq, p.seq AS stored FROM punch_keys k LEFT JOIN punches p ON p.seq = k.seq WHERE k.dedupe_key = ?'),
      bump: db.prepare(
        'INSERT INTO counters(name, value) VALUES (?, 1) ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value',
      ),
      insert: db.prepare(`INSERT INTO punches(seq, id, clock, user, person, session, verify, time, time_utc_ms, received_at,
        clock_synced, mono_ns, boot_id, raw, extra, dedupe_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      get: db.prepare(`${SELECT_PUNCHES} WHERE p.id = ?`),
      count: db.prepare('SELECT count(*) AS n FROM punches'),
      lastSeq: db.prepare('SELECT value FROM counters WHERE name = ?'),
    };
    this.appendTx = db.transaction((p: NewPunch): AppendResult => {
      if (p.dedupeKey !== undefined) {
        const hit = this.st.byKey.get(p.dedupeKey) as { seq: number; id: string } | undefined;
        if (hit) return { id: hit.id, seq: hit.seq, duplicate: true };
      }
      const seq = Number((this.st.bump.get(COUNTER) as { value: number }).value);
      const id = `${this.gatewayId}:${seq}`;
      this.st.insert.run(
        seq, id, p.clock, p.user, p.person ?? null, p.session ?? null, p.verify, p.time, Date.parse(p.time),
        p.receivedAt, p.clockSynced ? 1 : 0, p.monoNs.toString(), p.bootId, p.raw,
        p.extra === undefined ? null : JSON.stringify(p.extra), p.dedupeKey ?? null,
      );
      if (p.dedupeKey !== undefined) this.st.insertKey.run(p.dedupeKey, seq, id);
      this.outbox.enqueue('attendance', { recordId: id, orderKey: p.clock, seq, payload: punchWireRecord(id, seq, p) });
      return { id, seq, duplicate: false };
    });
  }

  /**
   * Stores a punch durably and queues it for the center. Returns only after the commit is on
   * disk. Throws on invalid input (nothing stored) or if the disk write fails.
   */
  append(p: NewPunch): AppendResult {
    // The center reads these as instants: a time without its offset would be ambiguous evidence.
    for (const [k, v] of [['time', p.time], ['receivedAt', p.receivedAt]] as const) {
      if (typeof v !== 'string' || !ISO_WITH_OFFSET.test(v) || Number.isNaN(Date.parse(v))) {
        throw new RangeError(`punch ${k} is not an ISO-8601 instant with offset: ${JSON.stringify(v)}`);
      }
    }
    if (typeof p.monoNs !== 'bigint') throw new TypeError('punch monoNs must be a bigint');
    return this.appendTx(p);
  }

  /**
   * True when every punch with these device identities is stored and settled at the center
   * (a pruned punch was settled before it was pruned). The zk driver clears a terminal's log
   * only on this answer, so an unknown key or a record still in flight means false.
   */
  allSettled(dedupeKeys: readonly string[]): boolean {
    const seqs: number[] = [];
    for (const key of dedupeKeys) {
      const row = this.st.keyState.get(key) as { seq: number; stored: number | null } | undefined;
      if (!row) return false;
      if (row.stored !== null) seqs.push(row.seq);
    }
    seqs.sort((a, b) => a - b);
    return this.outbox.statesOf('attendance', seqs).every((s) => s.state === 'settled');
  }

  list(q: PunchQuery = {}): StoredPunch[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.sinceSeq !== undefined) {
      where.push('p.seq > ?');
      args.push(Math.trunc(q.sinceSeq));
    }
    if (q.since !== undefined) {
      const ms = Date.parse(q.since);
      if (Number.isNaN(ms)) throw new RangeError(`since is not an ISO-8601 instant: ${JSON.stringify(q.since)}`);
      where.push('p.time_utc_ms >= ?');
      args.push(ms);
    }
    const limit = Math.min(10_000, Math.max(1, Math.trunc(q.limit ?? 100)));
    const sql = `${SELECT_PUNCHES}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY p.seq LIMIT ?`;
    return this.withStates(this.db.prepare(sql).all(...args, limit) as PunchRow[]);
  }

  get(id: string): StoredPunch | undefined {
    const row = this.st.get.get(id) as PunchRow | undefined;
    return row ? this.withStates([row])[0] : undefined;
  }

  private withStates(rows: PunchRow[]): StoredPunch[] {
    const states = this.outbox.statesOf('attendance', rows.map((r) => r.seq));
    return rows.map((r, i) => toStored(r, states[i]));
  }

  /** Punches currently stored (pruned ones are gone). */
  count(): number {
    return (this.st.count.get() as { n: number }).n;
  }

  /** Highest seq ever assigned (survives pruning); 0 before the first punch. */
  lastSeq(): number {
    const r = this.st.lastSeq.get(COUNTER) as { value: number } | undefined;
    return r ? Number(r.value) : 0;
  }
}

function toStored(r: PunchRow, s: RecordState): StoredPunch {
  return {
    seq: r.seq,
    id: r.id,
    clock: r.clock,
    user: r.user,
    person: r.person,
    session: r.session,
    verify: r.verify as VerifyText,
    time: r.time,
    receivedAt: r.received_at,
    clockSynced: r.clock_synced === 1,
    monoNs: r.mono_ns,
    bootId: r.boot_id,
    raw: r.raw,
    extra: r.extra === null ? null : (JSON.parse(r.extra) as Record<string, unknown>),
    state: s.state,
    batch: s.batch,
    settledAt: s.settledAt,
  };
}
