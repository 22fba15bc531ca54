// Child process for the kill -9 test: appends punches forever, printing each id only after
// append() has returned (the moment a device would be answered), and claims/settles batches
// in between so those transactions are in flight too when the kill lands.
import { openDatabase } from '../../sync/store/database.js';
import { PunchStore } from '../../sync/store/punch-store.js';
import { Outbox } from '../../sync/outbox/outbox.js';
import { punch } from './fixtures.js';

const db = openDatabase(process.argv[2]);
const outbox = new Outbox(db);
const store = new PunchStore(db, 'G', outbox);
for (let i = 0; ; i++) {
  const r = store.append(punch(i));
  process.stdout.write(`${r.id}\n`);
  if (i % 7 === 6) {
    const b = outbox.takeBatch('attendance', 5);
    if (b && i % 2 === 0) outbox.settle('attendance', b.batch);
  }
}
