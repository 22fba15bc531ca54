import t from 'tap';
import type { Test } from 'tap';
import { join } from 'node:path';
import { openDatabase, closeDatabase } from '../../sync/store/database.js';
import { Outbox } from '../../sync/outbox/outbox.js';
import { PunchStore } from '../../sync/store/punch-store.js';
import { PunchTimeCorrector } from '../../sync/store/punch-time-correction.js';
import { startClockSyncCorrection } from '../../gateway/clock-sync-correction.js';
import { createLogger } from '../../gateway/logger.js';
import type { TimeFacts } from '../../gateway/time-facts.js';
import { tempDir, punch } from '../sync/fixtures.js';

function facts(synced: boolean): TimeFacts & { sync(): void } {
  const listeners = new Set<() => void>();
  return {
    clockSynced: () => synced,
    bootId: () => 'boot-X',
    monoNs: () => 2000n * 1_000_000_000n,
    onSynced: (fn) => (listeners.add(fn), () => listeners.delete(fn)),
    stop: () => listeners.clear(),
    sync() {
      synced = true;
      for (const fn of listeners) fn();
    },
  };
}

function setup(t: Test) {
  const db = openDatabase(join(tempDir(t), 'tpgw.db'));
  t.teardown(() => closeDatabase(db));
  const outbox = new Outbox(db);
  const store = new PunchStore(db, 'G', outbox);
  const wrong = new Date(Date.UTC(2020, 0, 1)).toISOString().replace('Z', '+00:00');
  store.append(punch(1, { time: wrong, receivedAt: wrong, clockSynced: false, monoNs: 1000n * 1_000_000_000n, bootId: 'boot-X' }));
  const logs: string[] = [];
  const log = createLogger('info', { destination: { write: (s: string) => void logs.push(s) } as unknown as NodeJS.WritableStream });
  return { db, outbox, store, corrector: new PunchTimeCorrector(db, 'G', outbox), log, logs };
}

t.test('restart in the same boot with the clock already synchronised: corrected at start', async (t) => {
  const { store, corrector, log } = setup(t);
  const notified: string[] = [];
  const stop = startClockSyncCorrection({ time: facts(true), corrector, notify: (s) => notified.push(s), log, nowMs: () => Date.UTC(2026, 11, 4, 9) });
  t.teardown(stop);
  // Taken 1000 s before the anchor (mono 1000 s vs 2000 s).
  t.equal(Date.parse(store.list()[0].time), Date.UTC(2026, 11, 4, 9) - 1_000_000, 'dated from the monotonic clock');
  t.same(notified, ['attendance'], 'the pending punch was rewritten: its uplink is woken');
});

t.test('unsynchronised at start: nothing until the clock synchronises', async (t) => {
  const { store, corrector, log } = setup(t);
  const time = facts(false);
  const stop = startClockSyncCorrection({ time, corrector, notify: () => {}, log, nowMs: () => Date.UTC(2026, 11, 4, 9) });
  t.teardown(stop);
  t.equal(store.list()[0].time.slice(0, 4), '2020');
  time.sync();
  t.equal(Date.parse(store.list()[0].time), Date.UTC(2026, 11, 4, 9) - 1_000_000);
});

t.test('a failing store is logged, not thrown: the punches are examined again later', async (t) => {
  const { store, corrector, log, logs } = setup(t);
  const time = facts(false);
  const stop = startClockSyncCorrection({ time, corrector, notify: () => {}, log });
  t.teardown(stop);
  corrector.correct = () => {
    throw new Error('disk I/O error');
  };
  t.doesNotThrow(() => time.sync());
  t.match(logs.join(''), /punch time correction failed.*|disk I\/O error/);
  t.equal(store.list()[0].time.slice(0, 4), '2020', 'unchanged');
});
