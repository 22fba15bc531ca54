// Opens the gateway's SQLite file the only way the money-deciding data may be opened: WAL,
// synchronous=FULL (a commit is on disk before the call returns), integrity checked, schema
// migrated. A damaged file stops the start with a clear error and is left exactly where it is:
// silently starting a fresh database would hide the punches the damaged one still holds.
import BetterSqlite3 from 'better-sqlite3';
import type { Database } from 'better-sqlite3';
import { mkdirSync, existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { migrate } from './migrations.js';

export type { Database };

export class StoreCorruptError extends Error {
  override name = 'StoreCorruptError';
  constructor(
    readonly file: string,
    readonly detail: string,
  ) {
    super(
      `SQLite store ${file} is damaged or not a SQLite database (${detail}). ` +
        'The file was left untouched; restore it from a backup or move it aside to start empty.',
    );
  }
}

export interface OpenOptions {
  readonly?: boolean;
  /** Milliseconds to wait on a lock held by another connection (e.g. a CLI reading status). */
  busyTimeoutMs?: number;
}

const CORRUPT_CODES = new Set(['SQLITE_CORRUPT', 'SQLITE_NOTADB', 'SQLITE_CORRUPT_INDEX', 'SQLITE_CORRUPT_SEQUENCE']);

function isCorruption(err: unknown): err is Error & { code?: string } {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && (CORRUPT_CODES.has(code) || code.startsWith('SQLITE_CORRUPT'));
}

export function openDatabase(file: string, opts: OpenOptions = {}): Database {
  const path = resolve(file);
  const readonly = opts.readonly ?? false;
  if (readonly && !existsSync(path)) throw new Error(`SQLite store ${path} does not exist`);
  if (!readonly) mkdirSync(dirname(path), { recursive: true });

  let db: Database;
  try {
    db = new BetterSqlite3(path, { readonly, fileMustExist: readonly });
  } catch (err) {
    if (isCorruption(err)) throw new StoreCorruptError(path, err.message);
    throw err;
  }
  try {
    db.pragma(`busy_timeout = ${Math.trunc(opts.busyTimeoutMs ?? 5000)}`);
    // The first real read of the file: a non-database file fails here with SQLITE_NOTADB.
    if (!readonly) {
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (String(mode).toLowerCase() !== 'wal') throw new Error(`could not switch ${path} to WAL (got ${String(mode)})`);
    }
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    // No memory map and SQLite's default 2 MB page cache. With mmap every page ever read stays
    // mapped into the process (the integrity check below reads them all): a 90-day store would
    // show as its whole size in RSS. Reads through the OS page cache cost a 4 KB copy per page,
    // and measured no slower for a backlog drain (batches are read once, in order).
    db.pragma('mmap_size = 0');
    db.pragma('cache_size = -2000');
    const rows = db.pragma('integrity_check') as { integrity_check: string }[];
    const problems = rows.map((r) => r.integrity_check).filter((s) => s !== 'ok');
    if (problems.length > 0) throw new StoreCorruptError(path, problems.slice(0, 5).join('; '));
    if (!readonly) migrate(db);
    return db;
  } catch (err) {
    try {
      db.close();
    } catch {
      /* already unusable; the original error is what matters */
    }
    if (err instanceof StoreCorruptError) throw err;
    if (isCorruption(err)) throw new StoreCorruptError(path, err.message);
    throw err;
  }
}

/** Folds the WAL back into the main file and closes, so the file alone is a complete copy. */
export function closeDatabase(db: Database): void {
  if (!db.open) return;
  try {
    if (!db.readonly) db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
}
