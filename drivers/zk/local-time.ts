// ZK terminals keep naive local wall-clock time (no zone, no DST flag). These helpers turn such a
// time into an ISO-8601 instant with offset for a configured IANA zone and back, using Intl only.
// (drivers/time/zoned-time.ts may offer the same later; this keeps drivers/zk self-contained.)

export interface LocalParts {
  y: number;
  mo: number;
  d: number;
  h: number;
  mi: number;
  s: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The box's zone when none is configured. */
export function defaultTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** Throws a RangeError naming the zone when it is not a valid IANA zone. */
export function assertTimeZone(timeZone: string): void {
  formatter(timeZone);
}

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch {
      throw new RangeError(`unknown time zone "${timeZone}"`);
    }
    formatters.set(timeZone, f);
  }
  return f;
}

/** Wall-clock parts of an instant in a zone. */
export function partsInZone(date: Date, timeZone = defaultTimeZone()): LocalParts {
  const p: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(date)) {
    if (part.type !== 'literal') p[part.type] = Number(part.value);
  }
  return { y: p.year, mo: p.month, d: p.day, h: p.hour === 24 ? 0 : p.hour, mi: p.minute, s: p.second };
}

function offsetMinutesAt(utcMs: number, timeZone: string): number {
  const p = partsInZone(new Date(utcMs), timeZone);
  const asUtc = Date.UTC(p.y, p.mo - 1, p.d, p.h, p.mi, p.s);
  return Math.round((asUtc - Math.floor(utcMs / 1000) * 1000) / 60000);
}

const candidateCache = new Map<string, number[]>();

/** Offsets that can apply on a local day: those in force a day before and a day after it. */
function dayCandidates(p: LocalParts, timeZone: string): number[] {
  const key = `${timeZone}|${p.y}-${p.mo}-${p.d}`;
  let c = candidateCache.get(key);
  if (!c) {
    const midnight = Date.UTC(p.y, p.mo - 1, p.d);
    c = [...new Set([offsetMinutesAt(midnight - 86400000, timeZone), offsetMinutesAt(midnight + 2 * 86400000, timeZone)])];
    if (candidateCache.size > 4096) candidateCache.clear();
    candidateCache.set(key, c);
  }
  return c;
}

/** The instant (ms) and the offset (minutes) in force then, for local parts in a zone. */
function resolveLocal(p: LocalParts, timeZone: string): { ms: number; offset: number } {
  const naive = Date.UTC(p.y, p.mo - 1, p.d, p.h, p.mi, p.s);
  let best: { ms: number; offset: number } | null = null;
  for (const offset of dayCandidates(p, timeZone)) {
    const ms = naive - offset * 60000;
    if (offsetMinutesAt(ms, timeZone) === offset && (!best || ms < best.ms)) best = { ms, offset };
  }
  if (best) return best;
  // Skipped hour (spring forward): read with the offset before the change.
  const ms = naive - offsetMinutesAt(naive - 86400000, timeZone) * 60000;
  return { ms, offset: offsetMinutesAt(ms, timeZone) };
}

/**
 * The instant a local wall-clock time denotes in `timeZone`. In the repeated hour after a DST
 * change the earlier instant is chosen; a time inside the skipped hour is moved forward by the gap.
 */
export function localToDate(p: LocalParts, timeZone = defaultTimeZone()): Date {
  return new Date(resolveLocal(p, timeZone).ms);
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** `YYYY-MM-DDTHH:mm:ss` of the parts themselves (no zone): the device's own notation. */
export function formatLocal(p: LocalParts): string {
  return `${pad(p.y, 4)}-${pad(p.mo)}-${pad(p.d)}T${pad(p.h)}:${pad(p.mi)}:${pad(p.s)}`;
}

/** ISO-8601 with the zone's offset at that instant, e.g. `2026-12-04T08:00:00+01:00`. */
export function localToIso(p: LocalParts, timeZone = defaultTimeZone()): string {
  const { ms, offset } = resolveLocal(p, timeZone);
  // Wall time at that instant, from plain UTC arithmetic (also normalises e.g. 31 February).
  const w = new Date(ms + offset * 60000);
  const local = { y: w.getUTCFullYear(), mo: w.getUTCMonth() + 1, d: w.getUTCDate(), h: w.getUTCHours(), mi: w.getUTCMinutes(), s: w.getUTCSeconds() };
  const sign = offset < 0 ? '-' : '+';
  const a = Math.abs(offset);
  return `${formatLocal(local)}${sign}${pad(Math.floor(a / 60))}:${pad(a % 60)}`;
}
