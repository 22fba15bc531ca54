// Shared pieces of the ZK driver tests: a store-like sink that dedupes on extra.dedupeKey the way
// the real store does, config building, and polling for a condition (never timing assertions).
import { zkClockSchema, type ZkClockConfig } from '../../config/clocks.js';
import type { DevicePunch, PunchSink } from '../../drivers/types.js';
import type { LocalFields } from '../../drivers/time/zoned-time.js';
export { until as waitFor } from '../helpers/until.js';

export interface MapSink {
  sink: PunchSink;
  /** Stored punches by dedupe key (what the store would hold). */
  stored: Map<string, { id: string; seq: number; punch: DevicePunch }>;
  /** Every call, duplicates included. */
  calls: DevicePunch[];
  /** Keys the "center" has acknowledged. */
  settled: Set<string>;
  isSettled: (keys: string[]) => boolean;
  /** Makes the next n calls throw (a full disk, say). */
  failNext: (n: number) => void;
}

export function mapSink(): MapSink {
  const stored = new Map<string, { id: string; seq: number; punch: DevicePunch }>();
  const calls: DevicePunch[] = [];
  const settled = new Set<string>();
  let seq = 0;
  let failures = 0;
  const sink: PunchSink = (p) => {
    if (failures > 0) {
      failures--;
      throw new Error('store unavailable');
    }
    calls.push(p);
    const key = p.extra?.dedupeKey;
    if (typeof key !== 'string' || key.length === 0) throw new Error('punch without dedupeKey');
    const prev = stored.get(key);
    if (prev) return { id: prev.id, seq: prev.seq, duplicate: true };
    seq++;
    const rec = { id: `G:${seq}`, seq, punch: p };
    stored.set(key, rec);
    return { id: rec.id, seq, duplicate: false };
  };
  return {
    sink,
    stored,
    calls,
    settled,
    isSettled: (keys) => keys.every((k) => stored.has(k) && settled.has(k)),
    failNext: (n) => {
      failures = n;
    },
  };
}

export function zkConfig(port: number, over: Partial<ZkClockConfig> = {}): ZkClockConfig {
  return zkClockSchema.parse({
    id: 'zk1',
    driver: 'zk',
    host: '127.0.0.1',
    port,
    transport: 'tcp',
    pollSeconds: 3600,
    timeoutMs: 3000,
    timezone: 'Europe/Berlin',
    ...over,
  });
}

/** n distinct records on one day, one second apart. */
export function records(n: number, userOf: (i: number) => string = (i) => `STUDENT-${String(i).padStart(6, '0')}`) {
  return Array.from({ length: n }, (_, i) => {
    const time: LocalFields = { y: 2026, mo: 12, d: 4, h: 7 + Math.floor(i / 3600), mi: Math.floor(i / 60) % 60, s: i % 60 };
    return { user: userOf(i), verifyCode: i % 3 === 0 ? 2 : 1, state: 0, time };
  });
}
