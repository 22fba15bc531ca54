// Correcting punch times after a late clock sync. The box has no RTC: it may boot with a wall
// clock that is hours or years off and run that way until NTP answers. Every punch stores the
// wall time it was given, whether the clock was synchronised then, a CLOCK_MONOTONIC reading and
// the boot id. Once the clock is synchronised, an anchor (wall time and monotonic reading taken
// together, now that the wall clock is right) dates every punch of the same boot exactly:
//
//     true time = anchor.wall - (anchor.mono - punch.mono)
//
// The monotonic clock never jumps (NTP steps do not touch it) and drifts by ppm, so this is exact
// to the millisecond over a school day. Punches of an earlier boot cannot be dated this way (the
// monotonic clock restarts at boot) and stay as they are, flagged clockSynced: false.
//
// What changes, in one synchronous=FULL transaction:
// - the punch row: received_at (the gateway's stamp) and, when the gateway stamped the punch
//   itself (time == received_at; a device that reports its own time keeps it), time;
//   corrected_from keeps the original values and the offset (NULL there means "not examined").
// - a punch still pending (in no batch yet) leaves with the corrected times and a `timeCorrected`
//   field naming the originals: its outbox row is rewritten before it is ever sent.
// - a punch already sent (in flight or settled) gets a record on the `corrections` stream, acked
//   by the center like any other: {id, seq, punch, time, receivedAt, was: {...}, offsetMs, ...}.
// Offsets under minOffsetMs are examined but not applied: a clock that was right but not yet
// confirmed by NTP would otherwise produce a stream of meaningless sub-second corrections.
import type { Database, Statement } from 'better-sqlite3';
import type { Outbox } from '../outbox/outbox.js';
import { punchFromRow, punchWireRecord, SELECT_PUNCHES, type PunchRow } from './punch-store.js';

export interface SyncAnchor {
  /** Boot id of the running system: only punches of this boot can be dated. */
  bootId: string;
  /** Synchronised wall time (ms since the epoch) read together with monoNs. */
  wallMs: number;
  /** CLOCK_MONOTONIC reading (ns) at wallMs. */
  monoNs: bigint;
}

export interface CorrectionOptions {
  /** Formats a corrected instant as ISO-8601 with the offset the gateway uses for its stamps. */
  format: (ms: number) => string;
  /** Offsets smaller than this (absolute) are examined but not applied; default 1000 ms. */
  minOffsetMs?: number;
}

export interface CorrectionResult {
  /** Unsynchronised punches of this boot looked at. */
  examined: number;
  /** Of those, whose times were changed. */
  corrected: number;
  /** Corrected before they were sent (their outbox rows were rewritten). */
  correctedPending: number;
  /** Corrected after they were sent: one record each on the corrections stream. */
  correctionRecords: number;
}

export class PunchTimeCorrector {
  private readonly st: {
    uncorrected: Statement<[string]>;
    apply: Statement<[string, number, string, string, number]>;
    examine: Statement<[string, number]>;
  };

  constructor(
    private readonly db: Database,
    private readonly gatewayId: string,
    private readonly outbox: Outbox,
  ) {
    this.st = {
      // Served by the partial index punches_uncorrected (migration 4).
      uncorrected: db.prepare(`${SELECT_PUNCHES} WHERE p.clock_synced = 0 AND p.corrected_from IS NULL AND p.boot_id = ? ORDER BY p.seq`),
      apply: db.prepare('UPDATE punches SET time = ?, time_utc_ms = ?, received_at = ?, corrected_from = ? WHERE seq = ?'),
      examine: db.prepare('UPDATE punches SET corrected_from = ? WHERE seq = ?'),
    };
  }

  /** Dates every unexamined unsynchronised punch of the anchor's boot (see the header). */
  correct(anchor: SyncAnchor, opts: CorrectionOptions): CorrectionResult {
    if (!Number.isFinite(anchor.wallMs)) throw new RangeError('anchor wall time must be finite');
    const minOffsetMs = opts.minOffsetMs ?? 1000;
    const result: CorrectionResult = { examined: 0, corrected: 0, correctedPending: 0, correctionRecords: 0 };
    this.db.transaction(() => {
      for (const row of this.st.uncorrected.all(anchor.bootId) as PunchRow[]) {
        const mono = BigInt(row.mono_ns);
        // Taken after the anchor: the next anchor dates it (cannot happen with a fresh anchor).
        if (mono > anchor.monoNs) continue;
        result.examined++;
        const trueMs = anchor.wallMs - Math.round(Number(anchor.monoNs - mono) / 1e6);
        const offsetMs = trueMs - Date.parse(row.received_at);
        const was = { time: row.time, receivedAt: row.received_at };
        if (Math.abs(offsetMs) < minOffsetMs) {
          this.st.examine.run(JSON.stringify({ offsetMs, applied: false }), row.seq);
          continue;
        }
        const receivedAt = opts.format(trueMs);
        const gatewayStamped = row.time === row.received_at;
        const time = gatewayStamped ? receivedAt : row.time;
        this.st.apply.run(time, Date.parse(time), receivedAt, JSON.stringify({ offsetMs, applied: true, ...was }), row.seq);
        result.corrected++;
        const correction = { offsetMs, was, method: 'monotonic' as const };
        if (this.outbox.isPending('attendance', row.seq)) {
          const rec = punchWireRecord(row.id, row.seq, { ...punchFromRow(row), time, receivedAt });
          this.outbox.rewritePending('attendance', row.seq, { ...rec, timeCorrected: correction });
          result.correctedPending++;
        } else {
          // One correction per punch ever (corrected_from is set now), so the id can name it.
          const id = `${this.gatewayId}:corr:${row.seq}`;
          this.outbox.enqueue('corrections', {
            recordId: id,
            orderKey: row.clock,
            payload: (seq) => ({ id, seq, punch: row.id, punchSeq: row.seq, clock: row.clock, time, receivedAt, bootId: row.boot_id, ...correction }),
          });
          result.correctionRecords++;
        }
      }
    })();
    return result;
  }
}
