// Wall-clock times in an IANA zone <-> instants (Date, or ISO-8601 with the offset that applied then).
// Clocks print or keep local time without an offset (line clocks, ZK terminals); a punch must carry
// the offset valid at that instant (DST included), so the center can compare punches from any zone.
// Offsets come from the runtime's time zone database (ICU's, bundled with Node): no tz library,
// no hand-written DST rules. The one module for this in drivers/ (line and zk both use it).
//
// A zone is an IANA name, or `undefined` for the box's own zone (TZ environment variable or
// /etc/localtime), which is what a clock without a configured `timezone` uses. The box's zone is
// read through Date's local-time getters, a named zone through Intl.DateTimeFormat. Both ask the
// same ICU zone rules, but a DateTimeFormat also loads ICU's locale and calendar data: ~8 MB of
// resident memory that a gateway whose clocks keep the box's time (nearly all) never needs.

/** A local wall-clock time as a device prints it. Months and days are 1-based. */
export interface LocalFields {
  y: number;
  mo: number;
  d: number;
  h: number;
  mi: number;
  s: number;
}

/** The box's IANA zone name (TZ environment variable or /etc/localtime). Loads ICU's locale data. */
export function boxTimeZone(): string {
  return new Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** An IANA zone name, or undefined for the box's own zone. */
export type Zone = string | undefined;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      era: 'short',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/**
 * Throws a RangeError naming the zone when it is not a known IANA zone; returns it otherwise.
 * The box's own zone (undefined) is always known.
 */
export function assertTimeZone<Z extends Zone>(timeZone: Z): Z {
  if (timeZone === undefined) return timeZone;
  try {
    formatterFor(timeZone);
  } catch {
    throw new RangeError(`unknown time zone "${timeZone}" (expected an IANA name such as Europe/Berlin)`);
  }
  return timeZone;
}

/** Wall-clock fields of an instant (whole seconds) in a zone. */
function wallFieldsAt(epochMs: number, timeZone: Zone): LocalFields {
  if (timeZone === undefined) {
    const d = new Date(epochMs);
    return { y: d.getFullYear(), mo: d.getMonth() + 1, d: d.getDate(), h: d.getHours(), mi: d.getMinutes(), s: d.getSeconds() };
  }
  const out: Record<string, number> = {};
  let bc = false;
  for (const part of formatterFor(timeZone).formatToParts(new Date(epochMs))) {
    if (part.type === 'era') bc = part.value.startsWith('B');
    else if (part.type !== 'literal') out[part.type] = Number(part.value);
  }
  // hourCycle h23 should never give 24, but some older ICU builds printed midnight as 24.
  const h = out.hour === 24 ? 0 : out.hour;
  return { y: bc ? 1 - out.year : out.year, mo: out.month, d: out.day, h, mi: out.minute, s: out.second };
}

/**
 * Wall-clock fields of an instant in `timeZone` (default: the box's), whole seconds (milliseconds
 * are dropped, not rounded). What a terminal should show at that instant, e.g. to set its clock.
 */
export function fieldsInZone(date: Date, timeZone?: string): LocalFields {
  const ms = date.getTime();
  if (!Number.isFinite(ms)) throw new RangeError('invalid Date');
  assertTimeZone(timeZone);
  return wallFieldsAt(ms, timeZone);
}

/** The fields read as if they were UTC, in ms (no two-digit-year surprises of Date.UTC). */
function fieldsAsUtcMs(f: LocalFields): number {
  const date = new Date(0);
  date.setUTCFullYear(f.y, f.mo - 1, f.d);
  date.setUTCHours(f.h, f.mi, f.s, 0);
  return date.getTime();
}

/** Offset of the zone from UTC at an instant, in ms (east positive). */
export function offsetMsAt(epochMs: number, timeZone: Zone): number {
  const whole = Math.floor(epochMs / 1000) * 1000;
  return fieldsAsUtcMs(wallFieldsAt(whole, timeZone)) - whole;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(y: number, mo: number): number {
  return mo === 2 && isLeap(y) ? 29 : DAYS_IN_MONTH[mo - 1];
}

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

/** Why the fields are not a real calendar time, or null when they are. */
export function invalidLocalFieldsReason(f: LocalFields): string | null {
  const all = [f.y, f.mo, f.d, f.h, f.mi, f.s];
  if (!all.every(Number.isInteger)) return 'time fields must be integers';
  if (f.y < 1000 || f.y > 9999) return `year ${f.y} out of range 1000-9999`;
  if (f.mo < 1 || f.mo > 12) return `month ${f.mo} out of range 1-12`;
  const dim = daysInMonth(f.y, f.mo);
  if (f.d < 1 || f.d > dim) return `day ${f.d} does not exist in ${f.y}-${pad2(f.mo)} (${dim} days)`;
  if (f.h > 23 || f.h < 0) return `hour ${f.h} out of range 0-23`;
  if (f.mi > 59 || f.mi < 0) return `minute ${f.mi} out of range 0-59`;
  if (f.s > 59 || f.s < 0) return `second ${f.s} out of range 0-59`;
  return null;
}

/**
 * The instant (epoch ms) a wall-clock time in `timeZone` denotes, and the offset in force then.
 * Throws a RangeError for impossible dates (2026-02-30, 25:00) and unknown zones.
 *
 * Around DST changes it behaves like Temporal's "compatible" disambiguation: a repeated hour
 * (autumn) means its first occurrence; a skipped hour (spring) is moved forward by the gap, so
 * 02:30 on the Berlin spring-forward day becomes 03:30+02:00 — the same instant a clock that
 * ignores DST meant.
 */
function resolveLocal(fields: LocalFields, timeZone: Zone): { ms: number; offsetMs: number } {
  const reason = invalidLocalFieldsReason(fields);
  if (reason) throw new RangeError(reason);
  assertTimeZone(timeZone);
  const local = fieldsAsUtcMs(fields);
  const day = 86_400_000;
  // Offsets a day either side bracket at most one transition (zones change at most twice a year).
  const before = offsetMsAt(local - day, timeZone);
  const after = offsetMsAt(local + day, timeZone);
  // Common case, no transition near: one offset fits (two zone look-ups per time in all).
  if (before === after) return { ms: local - before, offsetMs: before };
  const isValid = (t: number): boolean => offsetMsAt(t, timeZone) === local - t;
  const candidates = [local - before, local - after].filter(isValid).sort((a, b) => a - b);
  // No candidate fits: the time lies in a gap; read it with the offset before the change.
  const ms = candidates.length > 0 ? candidates[0] : local - before;
  return { ms, offsetMs: offsetMsAt(ms, timeZone) };
}

/**
 * A wall-clock time in `timeZone` (default: the box's) as ISO-8601 with the offset in force then,
 * e.g. 2026-12-04T08:30:15+01:00. Rules (DST, impossible dates) as for `localToDate`.
 */
export function localToIso(fields: LocalFields, timeZone?: string): string {
  const { ms, offsetMs } = resolveLocal(fields, timeZone);
  return formatIso(ms, offsetMs);
}

/**
 * The instant a wall-clock time in `timeZone` (default: the box's) denotes.
 * Throws a RangeError for impossible dates (2026-02-30, 25:00) and unknown zones. A repeated hour
 * (autumn) means its first occurrence; a time in the skipped hour (spring) moves forward by the gap.
 */
export function localToDate(fields: LocalFields, timeZone?: string): Date {
  return new Date(resolveLocal(fields, timeZone).ms);
}

/**
 * `YYYY-MM-DDTHH:mm:ss` of the fields themselves, no zone and no validation: the device's own
 * notation, stable for dedupe keys and audit even when the device sent an impossible date.
 */
export function formatLocal(f: LocalFields): string {
  return `${pad4(f.y)}-${pad2(f.mo)}-${pad2(f.d)}T${pad2(f.h)}:${pad2(f.mi)}:${pad2(f.s)}`;
}

/**
 * An instant as ISO-8601 wall time in `timeZone` (default: the box's) with its offset, e.g.
 * 2026-03-29T03:30:00+02:00. Milliseconds appear only when non-zero. For historical instants whose
 * offset has seconds (local mean time before ~1900), the UTC form +00:00 is returned, because an
 * ISO offset cannot carry seconds and a rounded one would name a different instant.
 */
export function isoInZone(date: Date, timeZone?: string): string {
  const ms = date.getTime();
  if (!Number.isFinite(ms)) throw new RangeError('invalid Date');
  assertTimeZone(timeZone);
  return formatIso(ms, offsetMsAt(ms, timeZone));
}

function formatIso(ms: number, offsetMs: number): string {
  const offset = offsetMs % 60_000 === 0 ? offsetMs : 0;
  const wall = new Date(ms + offset);
  const frac = wall.getUTCMilliseconds();
  const abs = Math.abs(offset) / 60_000;
  return (
    `${pad4(wall.getUTCFullYear())}-${pad2(wall.getUTCMonth() + 1)}-${pad2(wall.getUTCDate())}` +
    `T${pad2(wall.getUTCHours())}:${pad2(wall.getUTCMinutes())}:${pad2(wall.getUTCSeconds())}` +
    (frac ? `.${String(frac).padStart(3, '0')}` : '') +
    `${offset < 0 ? '-' : '+'}${pad2(Math.floor(abs / 60))}:${pad2(abs % 60)}`
  );
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

function pad4(n: number): string {
  return String(n).padStart(4, '0');
}
