// Facts the gateway stamps on every punch so that time stays evidence on a box with no RTC:
// whether the system clock is NTP-synchronised, a monotonic reading and the boot id. With the
// last two, a punch taken while the clock was wrong can be corrected once the clock syncs
// (same boot: wall = syncedWall - (syncedMono - punchMono)).
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

export type TimeSyncMode = 'auto' | 'synced' | 'unsynced';

export interface TimeFacts {
  clockSynced(): boolean;
  bootId(): string;
  monoNs(): bigint;
  /**
   * Calls fn each time the clock becomes synchronised after having been seen unsynchronised
   * (the moment punch times taken meanwhile can be corrected). Returns an unsubscribe function.
   */
  onSynced(fn: () => void): () => void;
  stop(): void;
}

function readBootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

/**
 * How synchronisation is detected ('auto'): systemd-timesyncd touches
 * /run/systemd/timesync/synchronized once it has synced; otherwise `timedatectl` reports
 * NTPSynchronized (also true under chrony/ntpd via the kernel's adjtimex status). Checked every
 * 30 s in the background so stamping a punch never waits on a child process.
 */
export function createTimeFacts(mode: TimeSyncMode = 'auto', refreshMs = 30_000): TimeFacts {
  const bootId = readBootId();
  let synced = mode === 'synced';
  let timer: NodeJS.Timeout | undefined;
  const listeners = new Set<() => void>();
  const set = (now: boolean) => {
    const became = now && !synced;
    synced = now;
    if (became) for (const fn of [...listeners]) fn();
  };
  if (mode === 'auto') {
    const refresh = () => {
      if (existsSync('/run/systemd/timesync/synchronized')) {
        set(true);
        return;
      }
      execFile('timedatectl', ['show', '--property=NTPSynchronized', '--value'], { timeout: 5000 }, (err, out) => {
        set(!err && out.trim() === 'yes');
      });
    };
    refresh();
    timer = setInterval(refresh, refreshMs);
    timer.unref();
  }
  return {
    clockSynced: () => synced,
    bootId: () => bootId,
    // CLOCK_MONOTONIC on Linux: counts from boot, comparable across restarts of the service.
    monoNs: () => process.hrtime.bigint(),
    onSynced: (fn) => (listeners.add(fn), () => listeners.delete(fn)),
    stop: () => {
      if (timer) clearInterval(timer);
      listeners.clear();
    },
  };
}

/** Local wall time as ISO-8601 with the box's offset (e.g. 2026-12-04T15:18:44.123+08:00). */
export function isoWithLocalOffset(d: Date): string {
  const offMin = -d.getTimezoneOffset();
  const sign = offMin >= 0 ? '+' : '-';
  const abs = Math.abs(offMin);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}` +
    `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`
  );
}
