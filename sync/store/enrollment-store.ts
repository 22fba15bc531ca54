// Fingerprint enrollments: which person a template page on a clock belongs to. r30x-style
// modules identify a finger only by page number; the gateway maps it to a person id here.
import type { Database, Statement } from 'better-sqlite3';

export interface Enrollment {
  clock: string;
  page: number;
  person: string;
  createdAt: string;
}

export class EnrollmentStore {
  private readonly st: {
    set: Statement<[string, number, string, string]>;
    remove: Statement<[string, number]>;
    get: Statement<[string, number]>;
    list: Statement<[string]>;
  };

  constructor(db: Database) {
    this.st = {
      set: db.prepare(
        'INSERT INTO enrollments(clock, page, person, created_at) VALUES (?, ?, ?, ?) ON CONFLICT(clock, page) DO UPDATE SET person = excluded.person, created_at = excluded.created_at',
      ),
      remove: db.prepare('DELETE FROM enrollments WHERE clock = ? AND page = ?'),
      get: db.prepare('SELECT person FROM enrollments WHERE clock = ? AND page = ?'),
      list: db.prepare('SELECT clock, page, person, created_at AS createdAt FROM enrollments WHERE clock = ? ORDER BY page'),
    };
  }

  set(clock: string, page: number, person: string): void {
    if (!Number.isSafeInteger(page) || page < 0) throw new RangeError(`enrollment page must be a non-negative integer, got ${page}`);
    this.st.set.run(clock, page, person, new Date().toISOString());
  }

  /** True when an enrollment was removed. */
  remove(clock: string, page: number): boolean {
    return this.st.remove.run(clock, page).changes > 0;
  }

  get(clock: string, page: number): string | undefined {
    return (this.st.get.get(clock, page) as { person: string } | undefined)?.person;
  }

  list(clock: string): Enrollment[] {
    return this.st.list.all(clock) as Enrollment[];
  }
}
