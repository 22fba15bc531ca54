// Shared builders for sync tests: temp store directories and punches.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NewPunch } from '../../sync/types.js';

export function tempDir(t: { teardown(fn: () => void): void }, name = 'tpgw-sync-'): string {
  const dir = mkdtempSync(join(tmpdir(), name));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function punch(i: number, over: Partial<NewPunch> = {}): NewPunch {
  const time = new Date(Date.UTC(2026, 11, 4, 8, 0, 0) + i * 1000).toISOString().replace('Z', '+00:00');
  return {
    clock: 'c1',
    user: String(1000 + (i % 50)),
    verify: 'fingerprint',
    time,
    receivedAt: time,
    clockSynced: true,
    monoNs: 123456789012345678n + BigInt(i),
    bootId: 'boot-1',
    raw: `${1000 + (i % 50)},${time}`,
    ...over,
  };
}
