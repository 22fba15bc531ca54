// The segment index: one row per recorded segment (and the gaps between them) in the
// gateway's SQLite file. The handle is passed in by gateway/; this class owns only its own
// tables and versions them in its own `streams_schema` table (PRAGMA user_version belongs to
// sync/'s migrations).
//
// Flags per segment: `queued` (gateway has put its metadata in the uplink outbox), `uploaded`
// (the center has the file), `inspected` (an inspector has reviewed it). Retention may delete
// a segment early only once it is uploaded or inspected; otherwise only after keepDays.
import type BetterSqlite3 from 'better-sqlite3';
import type { SegmentInfo, SegmentStatus } from '../types.js';

export const SEGMENT_INDEX_SCHEMA_VERSION = 1;

export type SegmentDraft = Omit<SegmentInfo, 'id'>;

export interface IndexedSegment extends SegmentInfo {
  queued: boolean;
  uploaded: boolean;
  inspected: boolean;
}

export interface RecordingGap {
  id: number;
  camera: string;
  /** End of the segment before the gap (ISO-8601 UTC). */
  from: string;
  /** Start of the segment after the gap. */
  to: string;
  seconds: number;
}

export interface SegmentQuery {
  camera?: string;
  /** Segments starting at or after this ISO time. */
  from?: string;
  /** Segments starting before this ISO time. */
  to?: string;
  status?: SegmentStatus;
  limit?: number;
}

export interface SegmentTotals {
  count: number;
  bytes: number;
  /** Segments whose file the center does not have yet and nobody has inspected. */
  protectedCount: number;
  protectedBytes: number;
  byStatus: Record<SegmentStatus, number>;
}

interface Row {
  id: number;
  camera: string;
  path: string;
  start: string;
  end: string;
  duration_seconds: number;
  bytes: number;
  sha256: string;
  status: SegmentStatus;
  session: string | null;
  recovered: number;
  queued: number;
  uploaded: number;
  inspected: number;
}

function fromRow(r: Row): IndexedSegment {
  return {
    id: r.id,
    camera: r.camera,
    path: r.path,
    start: r.start,
    end: r.end,
    durationSeconds: r.duration_seconds,
    bytes: r.bytes,
    sha256: r.sha256,
    status: r.status,
    session: r.session,
    recovered: r.recovered === 1,
    queued: r.queued === 1,
    uploaded: r.uploaded === 1,
    inspected: r.inspected === 1,
  };
}

const SCHEMA_V1 = `
CREATE TABLE IF NOT EXISTS segments (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  camera TEXT NOT NULL,
  path TEXT NOT NULL UNIQUE,
  start TEXT NOT NULL,
  "end" TEXT NOT NULL,
  duration_seconds REAL NOT NULL,
  bytes INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('ok', 'corrupt', 'missing')),
  session TEXT,
  recovered INTEGER NOT NULL DEFAULT 0,
  queued INTEGER NOT NULL DEFAULT 0,
  uploaded INTEGER NOT NULL DEFAULT 0,
  inspected INTEGER NOT NULL DEFAULT 0,
  indexed_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS segments_camera_start ON segments (camera, start);
CREATE INDEX IF NOT EXISTS segments_start ON segments (start);
CREATE INDEX IF NOT EXISTS segments_unqueued ON segments (queued) WHERE queued = 0;
CREATE TABLE IF NOT EXISTS recording_gaps (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  camera TEXT NOT NULL,
  gap_start TEXT NOT NULL,
  gap_end TEXT NOT NULL,
  seconds REAL NOT NULL,
  recorded_at TEXT NOT NULL,
  UNIQUE (camera, gap_start)
);
`;

export class SegmentIndex {
  private readonly stmt;

  constructor(private readonly db: BetterSqlite3.Database) {
    this.migrate();
    this.stmt = {
      insert: db.prepare(
        `INSERT INTO segments (camera, path, start, "end", duration_seconds, bytes, sha256, status, session, recovered, indexed_at)
         VALUES (@camera, @path, @start, @end, @durationSeconds, @bytes, @sha256, @status, @session, @recovered, @indexedAt)
         ON CONFLICT (path) DO NOTHING`,
      ),
      byPath: db.prepare(`SELECT * FROM segments WHERE path = ?`),
      byId: db.prepare(`SELECT * FROM segments WHERE id = ?`),
      previous: db.prepare(
        `SELECT * FROM segments WHERE camera = ? AND start < ? AND status != 'missing' ORDER BY start DESC LIMIT 1`,
      ),
      latest: db.prepare(`SELECT * FROM segments WHERE camera = ? ORDER BY start DESC LIMIT 1`),
      unqueued: db.prepare(`SELECT * FROM segments WHERE queued = 0 ORDER BY id LIMIT ?`),
      deletable: db.prepare(
        `SELECT * FROM segments
          WHERE status != 'missing' AND (uploaded = 1 OR inspected = 1 OR start < @cutoff)
          ORDER BY start LIMIT @limit`,
      ),
      expired: db.prepare(`SELECT * FROM segments WHERE start < ? ORDER BY start LIMIT ?`),
      insertGap: db.prepare(
        `INSERT INTO recording_gaps (camera, gap_start, gap_end, seconds, recorded_at)
         VALUES (?, ?, ?, ?, ?) ON CONFLICT (camera, gap_start) DO NOTHING`,
      ),
      totals: db.prepare(
        `SELECT COUNT(*) AS count, COALESCE(SUM(bytes), 0) AS bytes,
                COALESCE(SUM(CASE WHEN uploaded = 0 AND inspected = 0 AND status != 'missing' THEN 1 ELSE 0 END), 0) AS protectedCount,
                COALESCE(SUM(CASE WHEN uploaded = 0 AND inspected = 0 AND status != 'missing' THEN bytes ELSE 0 END), 0) AS protectedBytes,
                COALESCE(SUM(status = 'ok'), 0) AS ok, COALESCE(SUM(status = 'corrupt'), 0) AS corrupt,
                COALESCE(SUM(status = 'missing'), 0) AS missing
           FROM segments`,
      ),
    };
  }

  private migrate(): void {
    this.db.exec(`CREATE TABLE IF NOT EXISTS streams_schema (component TEXT PRIMARY KEY, version INTEGER NOT NULL)`);
    const row = this.db.prepare(`SELECT version FROM streams_schema WHERE component = 'segment-index'`).get() as
      | { version: number }
      | undefined;
    const current = row?.version ?? 0;
    if (current > SEGMENT_INDEX_SCHEMA_VERSION) {
      throw new Error(
        `segment index schema version ${current} is newer than this software (${SEGMENT_INDEX_SCHEMA_VERSION})`,
      );
    }
    if (current === SEGMENT_INDEX_SCHEMA_VERSION) return;
    this.db.transaction(() => {
      this.db.exec(SCHEMA_V1);
      this.db
        .prepare(
          `INSERT INTO streams_schema (component, version) VALUES ('segment-index', ?)
           ON CONFLICT (component) DO UPDATE SET version = excluded.version`,
        )
        .run(SEGMENT_INDEX_SCHEMA_VERSION);
    })();
  }

  /** Indexes a segment; idempotent on path. `created` is false when the path was already indexed. */
  insert(draft: SegmentDraft): { segment: IndexedSegment; created: boolean } {
    const res = this.stmt.insert.run({
      ...draft,
      recovered: draft.recovered ? 1 : 0,
      indexedAt: new Date().toISOString(),
    });
    return { segment: this.byPath(draft.path)!, created: res.changes === 1 };
  }

  byPath(path: string): IndexedSegment | null {
    const r = this.stmt.byPath.get(path) as Row | undefined;
    return r ? fromRow(r) : null;
  }

  byId(id: number): IndexedSegment | null {
    const r = this.stmt.byId.get(id) as Row | undefined;
    return r ? fromRow(r) : null;
  }

  list(q: SegmentQuery = {}): IndexedSegment[] {
    const where: string[] = [];
    const params: Record<string, unknown> = {};
    if (q.camera !== undefined) (where.push('camera = @camera'), (params.camera = q.camera));
    if (q.from !== undefined) (where.push('start >= @from'), (params.from = q.from));
    if (q.to !== undefined) (where.push('start < @to'), (params.to = q.to));
    if (q.status !== undefined) (where.push('status = @status'), (params.status = q.status));
    const sql =
      `SELECT * FROM segments ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY start, id` +
      (q.limit !== undefined ? ' LIMIT @limit' : '');
    if (q.limit !== undefined) params.limit = q.limit;
    return (this.db.prepare(sql).all(params) as Row[]).map(fromRow);
  }

  /** The latest non-missing segment of `camera` starting before `start` (gap detection). */
  previous(camera: string, start: string): IndexedSegment | null {
    const r = this.stmt.previous.get(camera, start) as Row | undefined;
    return r ? fromRow(r) : null;
  }

  latest(camera: string): IndexedSegment | null {
    const r = this.stmt.latest.get(camera) as Row | undefined;
    return r ? fromRow(r) : null;
  }

  markMissing(ids: readonly number[]): void {
    this.setFlag(`status = 'missing'`, ids);
  }

  /** The gateway has put these segments' metadata in the uplink outbox. */
  markQueued(ids: readonly number[]): void {
    this.setFlag('queued = 1', ids);
  }

  /** Segments whose metadata has not been queued for the center yet, oldest first. */
  unqueued(limit = 1000): IndexedSegment[] {
    return (this.stmt.unqueued.all(limit) as Row[]).map(fromRow);
  }

  /** The center has these segments' files. */
  markUploaded(ids: readonly number[]): void {
    this.setFlag('uploaded = 1', ids);
  }

  markInspected(ids: readonly number[]): void {
    this.setFlag('inspected = 1', ids);
  }

  /**
   * Segments retention may delete, oldest first: uploaded, inspected, or started before
   * `cutoff` (past keepDays). Segments awaiting upload or inspection within retention are never
   * returned.
   */
  deletableCandidates(cutoff: string, limit = 100): IndexedSegment[] {
    return (this.stmt.deletable.all({ cutoff, limit }) as Row[]).map(fromRow);
  }

  /** Every segment (including missing rows) started before `cutoff`, oldest first. */
  expired(cutoff: string, limit = 100): IndexedSegment[] {
    return (this.stmt.expired.all(cutoff, limit) as Row[]).map(fromRow);
  }

  delete(ids: readonly number[]): void {
    if (ids.length === 0) return;
    const del = this.db.prepare(`DELETE FROM segments WHERE id = ?`);
    this.db.transaction(() => {
      for (const id of ids) del.run(id);
    })();
  }

  /** Records a gap; returns false when this gap (camera, from) was already recorded. */
  insertGap(camera: string, from: string, to: string, seconds: number): boolean {
    return this.stmt.insertGap.run(camera, from, to, seconds, new Date().toISOString()).changes === 1;
  }

  gaps(camera?: string): RecordingGap[] {
    const rows = this.db
      .prepare(
        `SELECT id, camera, gap_start AS "from", gap_end AS "to", seconds FROM recording_gaps
          ${camera !== undefined ? 'WHERE camera = ?' : ''} ORDER BY gap_start`,
      )
      .all(...(camera !== undefined ? [camera] : [])) as RecordingGap[];
    return rows;
  }

  totals(): SegmentTotals {
    const r = this.stmt.totals.get() as {
      count: number;
      bytes: number;
      protectedCount: number;
      protectedBytes: number;
      ok: number;
      corrupt: number;
      missing: number;
    };
    return {
      count: r.count,
      bytes: r.bytes,
      protectedCount: r.protectedCount,
      protectedBytes: r.protectedBytes,
      byStatus: { ok: r.ok, corrupt: r.corrupt, missing: r.missing },
    };
  }

  private setFlag(assignment: string, ids: readonly number[]): void {
    if (ids.length === 0) return;
    const stmt = this.db.prepare(`UPDATE segments SET ${assignment} WHERE id = ?`);
    this.db.transaction(() => {
      for (const id of ids) stmt.run(id);
    })();
  }
}
