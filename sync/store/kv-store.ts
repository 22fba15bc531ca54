// Small named values that must survive restarts (e.g. last device log position, last info hash).
import type { Database, Statement } from 'better-sqlite3';

export class KvStore {
  private readonly st: { get: Statement<[string]>; set: Statement<[string, string]>; del: Statement<[string]> };

  constructor(db: Database) {
    this.st = {
      get: db.prepare('SELECT value FROM kv WHERE key = ?'),
      set: db.prepare('INSERT INTO kv(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
      del: db.prepare('DELETE FROM kv WHERE key = ?'),
    };
  }

  get(key: string): string | undefined {
    return (this.st.get.get(key) as { value: string } | undefined)?.value;
  }

  set(key: string, value: string): void {
    this.st.set.run(key, value);
  }

  delete(key: string): void {
    this.st.del.run(key);
  }
}
