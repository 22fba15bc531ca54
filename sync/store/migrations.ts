// Versioned schema migrations, tracked with PRAGMA user_version. Each runs in its own
// transaction together with the version bump, so a crash mid-migration leaves the previous
// version intact and the next start simply runs it again. Never edit a shipped migration: add one.
import type { Database } from 'better-sqlite3';

export interface Migration {
  version: number;
  name: string;
  up(db: Database): void;
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'punches, outbox, counters, enrollments, kv',
    up(db) {
      db.exec(`
        -- Gap-free sequences: a row per name, bumped inside the transaction that uses the value,
        -- so a rolled-back append never burns a number and pruning never resets one.
        CREATE TABLE counters (
          name  TEXT PRIMARY KEY,
          value INTEGER NOT NULL
        ) STRICT;

        CREATE TABLE punches (
          seq            INTEGER PRIMARY KEY,
          id             TEXT NOT NULL UNIQUE,
          clock          TEXT NOT NULL,
          user           TEXT NOT NULL,
          person         TEXT,
          session        TEXT,
          verify         TEXT NOT NULL,
          time           TEXT NOT NULL,      -- ISO-8601 with the offset it was given in
          time_utc_ms    INTEGER NOT NULL,   -- the same instant, for range queries
          received_at    TEXT NOT NULL,
          clock_synced   INTEGER NOT NULL,
          mono_ns        TEXT NOT NULL,      -- bigint as text: exceeds 2^53
          boot_id        TEXT NOT NULL,
          raw            TEXT NOT NULL,
          extra          TEXT,               -- JSON
          dedupe_key     TEXT,
          corrected_from TEXT
        ) STRICT;
        CREATE INDEX punches_time ON punches(time_utc_ms);
        -- Partial: most punches have no device identity, and an append should write no index
        -- page it does not need (every page is fsynced with the commit).
        CREATE UNIQUE INDEX punches_dedupe ON punches(dedupe_key) WHERE dedupe_key IS NOT NULL;

        -- The only uplink queue. A row is written once and never updated: its state is where its
        -- seq lies. Every row with seq <= stream_meta.claimed_seq belongs to exactly one batch of
        -- outbox_batches (ranges never overlap); rows above it are pending. Claiming and settling
        -- a batch of 500 records is thus one small row each, not 500 row rewrites.
        CREATE TABLE outbox (
          stream     TEXT NOT NULL,
          seq        INTEGER NOT NULL,
          record_id  TEXT NOT NULL,
          order_key  TEXT NOT NULL,
          payload    TEXT NOT NULL,          -- the wire record, pre-serialised JSON
          created_at TEXT NOT NULL,
          PRIMARY KEY (stream, seq)
        ) STRICT;

        -- state: 1 in flight (sent, not acked), 2 settled (center acked).
        CREATE TABLE outbox_batches (
          stream     TEXT NOT NULL,
          batch      TEXT NOT NULL,
          first_seq  INTEGER NOT NULL,
          last_seq   INTEGER NOT NULL,
          records    INTEGER NOT NULL,
          state      INTEGER NOT NULL,
          sent_at    TEXT NOT NULL,
          attempts   INTEGER NOT NULL,
          settled_at TEXT,
          PRIMARY KEY (stream, batch)
        ) STRICT;
        CREATE UNIQUE INDEX outbox_batches_range ON outbox_batches(stream, first_seq);
        CREATE INDEX outbox_batches_state ON outbox_batches(stream, state, first_seq);

        CREATE TABLE stream_meta (
          stream      TEXT PRIMARY KEY,
          claimed_seq INTEGER NOT NULL DEFAULT 0,
          last_ack_at TEXT
        ) STRICT;

        -- Fingerprint template page on a clock -> person id (r30x-style modules only know pages).
        CREATE TABLE enrollments (
          clock      TEXT NOT NULL,
          page       INTEGER NOT NULL,
          person     TEXT NOT NULL,
          created_at TEXT NOT NULL,
          PRIMARY KEY (clock, page)
        ) STRICT;

        CREATE TABLE kv (
          key   TEXT PRIMARY KEY,
          value TEXT NOT NULL
        ) STRICT;
      `);
    },
  },
  {
    version: 2,
    name: 'punch_keys: device identities of punches, kept after pruning',
    up(db) {
      // Terminals (zk) re-deliver their whole log on every download for as long as the log is
      // not cleared, which can be longer than sync.keepSettledDays. The device identity of every
      // punch ever stored is therefore kept here, outside the pruned punches table, so an old
      // record downloaded again is still recognised and never stored as a new punch.
      db.exec(`
        CREATE TABLE punch_keys (
          dedupe_key TEXT PRIMARY KEY,
          seq        INTEGER NOT NULL,
          id         TEXT NOT NULL
        ) STRICT, WITHOUT ROWID;
        INSERT INTO punch_keys(dedupe_key, seq, id) SELECT dedupe_key, seq, id FROM punches WHERE dedupe_key IS NOT NULL;
      `);
    },
  },
  {
    version: 3,
    name: 'outbox: one table per stream, keyed by seq',
    up(db) {
      // A batch is a seq range of one stream. Keyed by seq itself (the rowid), reading a batch is
      // one walk along the table's own B-tree, instead of a walk along a (stream, seq) index plus
      // a table lookup per record: reading a backlog costs about half. The streams are a closed
      // set (sync/types.ts StreamName); a new stream comes with a migration creating its table.
      const unknown = db.prepare("SELECT DISTINCT stream FROM outbox WHERE stream NOT IN ('attendance', 'recordings')").pluck().all();
      if (unknown.length > 0) throw new Error(`outbox holds rows of unknown streams: ${unknown.join(', ')}`);
      for (const stream of ['attendance', 'recordings']) {
        db.exec(`
          CREATE TABLE outbox_${stream} (
            seq        INTEGER PRIMARY KEY,
            record_id  TEXT NOT NULL,
            order_key  TEXT NOT NULL,
            payload    TEXT NOT NULL,          -- the wire record, pre-serialised JSON
            created_at TEXT NOT NULL
          ) STRICT;
          INSERT INTO outbox_${stream}(seq, record_id, order_key, payload, created_at)
            SELECT seq, record_id, order_key, payload, created_at FROM outbox WHERE stream = '${stream}' ORDER BY seq;
        `);
      }
      // The old name stays readable for audits and ad-hoc queries (sqlite3 tpgw.db).
      db.exec(`
        DROP TABLE outbox;
        CREATE VIEW outbox AS
          SELECT 'attendance' AS stream, seq, record_id, order_key, payload, created_at FROM outbox_attendance
          UNION ALL
          SELECT 'recordings' AS stream, seq, record_id, order_key, payload, created_at FROM outbox_recordings;
      `);
    },
  },
  {
    version: 4,
    name: 'corrections stream; index of punches awaiting a time correction',
    up(db) {
      // Punch times corrected after a late clock sync travel on their own stream when the punch
      // had already left (see PunchStore.correctUnsynced). punches.corrected_from, unused until
      // now, records the examination: NULL = not examined yet.
      db.exec(`
        CREATE TABLE outbox_corrections (
          seq        INTEGER PRIMARY KEY,
          record_id  TEXT NOT NULL,
          order_key  TEXT NOT NULL,
          payload    TEXT NOT NULL,
          created_at TEXT NOT NULL
        ) STRICT;
        DROP VIEW outbox;
        CREATE VIEW outbox AS
          SELECT 'attendance' AS stream, seq, record_id, order_key, payload, created_at FROM outbox_attendance
          UNION ALL
          SELECT 'recordings' AS stream, seq, record_id, order_key, payload, created_at FROM outbox_recordings
          UNION ALL
          SELECT 'corrections' AS stream, seq, record_id, order_key, payload, created_at FROM outbox_corrections;
        CREATE INDEX punches_uncorrected ON punches(boot_id, seq) WHERE clock_synced = 0 AND corrected_from IS NULL;
      `);
    },
  },
];

/** Highest version this build knows. */
export const latestVersion = migrations.reduce((m, x) => Math.max(m, x.version), 0);

/**
 * Brings the schema to latestVersion. Returns the versions applied (empty when up to date).
 * A file from a newer build is refused rather than used with a schema we do not understand.
 */
export function migrate(db: Database, list: readonly Migration[] = migrations): number[] {
  const current = db.pragma('user_version', { simple: true }) as number;
  const latest = list.reduce((m, x) => Math.max(m, x.version), 0);
  if (current > latest) {
    throw new Error(`database schema version ${current} is newer than this tpgw understands (${latest}); upgrade tpgw`);
  }
  const applied: number[] = [];
  for (const m of [...list].sort((a, b) => a.version - b.version)) {
    if (m.version <= current) continue;
    db.transaction(() => {
      m.up(db);
      // user_version is part of the database header, written by this same transaction.
      db.pragma(`user_version = ${Math.trunc(m.version)}`);
    })();
    applied.push(m.version);
  }
  return applied;
}
