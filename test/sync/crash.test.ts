import t from 'tap';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDatabase, closeDatabase } from '../../sync/store/database.js';
import { PunchStore } from '../../sync/store/punch-store.js';
import { Outbox } from '../../sync/outbox/outbox.js';
import { tempDir } from './fixtures.js';

const child = fileURLToPath(new URL('./append-child.ts', import.meta.url));

t.test('kill -9 while appending: every acknowledged punch is there, seqs gap-free, no duplicate', async (t) => {
  const file = join(tempDir(t), 'tpgw.db');
  const acked: string[] = [];
  for (let round = 0; round < 3; round++) {
    const proc = spawn(process.execPath, ['--import', 'tsx', child, file], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    const target = acked.length + 150 + round * 37;
    await new Promise<void>((resolve) => {
      proc.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        const lines = buf.split('\n');
        buf = lines.pop()!;
        acked.push(...lines);
        if (acked.length >= target && proc.exitCode === null) proc.kill('SIGKILL');
      });
      proc.on('exit', () => resolve());
    });
    t.equal(proc.signalCode, 'SIGKILL', `round ${round}: killed mid-stream`);
  }
  const db = openDatabase(file); // integrity_check runs here
  t.teardown(() => closeDatabase(db));
  const outbox = new Outbox(db);
  const store = new PunchStore(db, 'G', outbox);
  const n = store.count();
  t.ok(n >= acked.length, `stored ${n} >= acknowledged ${acked.length}`);
  const ids = new Set(store.list({ limit: 10_000 }).map((p) => p.id));
  t.same(acked.filter((id) => !ids.has(id)), [], 'no acknowledged punch lost');
  t.equal(new Set(acked).size, acked.length, 'no id handed out twice');
  t.same(store.list({ limit: 10_000 }).map((p) => p.seq), Array.from({ length: n }, (_, i) => i + 1), 'gap-free');
  const st = outbox.stats('attendance');
  t.equal(st.pending + st.inflight + st.settled, n, 'every punch has exactly one outbox state');
});
