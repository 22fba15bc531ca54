import t from 'tap';
import fc from 'fast-check';
import {
  assertTimeZone,
  boxTimeZone,
  fieldsInZone,
  formatLocal,
  invalidLocalFieldsReason,
  isoInZone,
  localToDate,
  localToIso,
  offsetMsAt,
} from '../../../drivers/time/zoned-time.js';

const at = (y: number, mo: number, d: number, h: number, mi: number, s: number) => ({ y, mo, d, h, mi, s });

t.test('local wall time to ISO with the offset of that instant', async (t) => {
  t.equal(localToIso(at(2026, 1, 15, 8, 0, 0), 'Europe/Berlin'), '2026-01-15T08:00:00+01:00', 'Berlin winter');
  t.equal(localToIso(at(2026, 7, 1, 8, 0, 0), 'Europe/Berlin'), '2026-07-01T08:00:00+02:00', 'Berlin summer');
  t.equal(localToIso(at(2026, 7, 1, 8, 0, 0), 'Asia/Shanghai'), '2026-07-01T08:00:00+08:00');
  t.equal(localToIso(at(2026, 1, 1, 0, 0, 0), 'Asia/Shanghai'), '2026-01-01T00:00:00+08:00');
  t.equal(localToIso(at(2026, 1, 15, 23, 59, 59), 'America/New_York'), '2026-01-15T23:59:59-05:00');
  t.equal(localToIso(at(2026, 7, 15, 12, 0, 0), 'America/New_York'), '2026-07-15T12:00:00-04:00');
  t.equal(localToIso(at(2026, 3, 1, 9, 15, 0), 'Asia/Kolkata'), '2026-03-01T09:15:00+05:30');
  t.equal(localToIso(at(2026, 3, 1, 9, 15, 0), 'UTC'), '2026-03-01T09:15:00+00:00');
  t.equal(localToIso(at(2024, 2, 29, 12, 0, 0), 'Europe/Berlin'), '2024-02-29T12:00:00+01:00', 'leap day');
});

t.test('DST transitions in Europe/Berlin (2026: Mar 29 and Oct 25)', async (t) => {
  t.equal(localToIso(at(2026, 3, 29, 1, 59, 59), 'Europe/Berlin'), '2026-03-29T01:59:59+01:00', 'just before spring-forward');
  t.equal(localToIso(at(2026, 3, 29, 3, 0, 0), 'Europe/Berlin'), '2026-03-29T03:00:00+02:00', 'just after spring-forward');
  t.equal(localToIso(at(2026, 3, 29, 2, 30, 0), 'Europe/Berlin'), '2026-03-29T03:30:00+02:00', 'skipped hour moves forward');
  t.equal(localToIso(at(2026, 10, 25, 2, 30, 0), 'Europe/Berlin'), '2026-10-25T02:30:00+02:00', 'repeated hour: first occurrence');
  t.equal(localToIso(at(2026, 10, 25, 3, 0, 0), 'Europe/Berlin'), '2026-10-25T03:00:00+01:00');
  t.equal(isoInZone(new Date('2026-10-25T00:30:00Z'), 'Europe/Berlin'), '2026-10-25T02:30:00+02:00');
  t.equal(isoInZone(new Date('2026-10-25T01:30:00Z'), 'Europe/Berlin'), '2026-10-25T02:30:00+01:00');
  t.equal(offsetMsAt(Date.parse('2026-03-29T00:59:59Z'), 'Europe/Berlin'), 3_600_000);
  t.equal(offsetMsAt(Date.parse('2026-03-29T01:00:00Z'), 'Europe/Berlin'), 7_200_000);
});

t.test('isoInZone keeps milliseconds only when present', async (t) => {
  t.equal(isoInZone(new Date('2026-05-04T05:06:07.089Z'), 'Asia/Shanghai'), '2026-05-04T13:06:07.089+08:00');
  t.equal(isoInZone(new Date('2026-05-04T05:06:07Z'), 'UTC'), '2026-05-04T05:06:07+00:00');
  t.throws(() => isoInZone(new Date(NaN), 'UTC'), RangeError);
});

t.test('impossible dates and unknown zones are rejected', async (t) => {
  for (const [f, why] of [
    [at(2026, 2, 30, 10, 0, 0), 'Feb 30'],
    [at(2026, 2, 29, 10, 0, 0), 'Feb 29 in a common year'],
    [at(2100, 2, 29, 10, 0, 0), 'Feb 29 in 2100'],
    [at(2026, 4, 31, 10, 0, 0), 'Apr 31'],
    [at(2026, 13, 1, 10, 0, 0), 'month 13'],
    [at(2026, 0, 1, 10, 0, 0), 'month 0'],
    [at(2026, 1, 0, 10, 0, 0), 'day 0'],
    [at(2026, 1, 1, 25, 0, 0), '25:00'],
    [at(2026, 1, 1, 24, 0, 0), '24:00'],
    [at(2026, 1, 1, 23, 60, 0), 'minute 60'],
    [at(2026, 1, 1, 23, 59, 60), 'leap second'],
    [at(99, 1, 1, 0, 0, 0), 'two-digit year'],
    [at(2026.5, 1, 1, 0, 0, 0), 'fractional year'],
  ] as const) {
    t.throws(() => localToIso(f, 'Europe/Berlin'), RangeError, why);
  }
  t.throws(() => localToIso(at(2026, 1, 1, 0, 0, 0), 'Mars/Olympus_Mons'), /unknown time zone "Mars\/Olympus_Mons"/);
  t.throws(() => assertTimeZone('Not/AZone'), RangeError);
  t.equal(assertTimeZone('Asia/Shanghai'), 'Asia/Shanghai');
});

// Moved from the zk driver's former local-time module: a terminal's time in the zones it ships to.
t.test('terminal wall time to ISO with the zone offset, and back to fields', async (t) => {
  const T = at(2026, 12, 4, 8, 30, 15);
  t.equal(localToIso(T, 'Europe/Berlin'), '2026-12-04T08:30:15+01:00');
  t.equal(localToIso({ ...T, mo: 7 }, 'Europe/Berlin'), '2026-07-04T08:30:15+02:00');
  t.equal(localToIso(T, 'UTC'), '2026-12-04T08:30:15+00:00');
  t.equal(localToIso(T, 'America/Sao_Paulo'), '2026-12-04T08:30:15-03:00');
  t.same(fieldsInZone(new Date('2026-12-04T07:30:15Z'), 'Europe/Berlin'), T);
});

t.test('fieldsInZone: wall fields of an instant, whole seconds, DST aware', async (t) => {
  t.same(fieldsInZone(new Date('2026-10-25T00:30:00Z'), 'Europe/Berlin'), at(2026, 10, 25, 2, 30, 0), 'first 02:30');
  t.same(fieldsInZone(new Date('2026-10-25T01:30:00Z'), 'Europe/Berlin'), at(2026, 10, 25, 2, 30, 0), 'second 02:30');
  t.same(fieldsInZone(new Date('2026-01-01T16:00:00.999Z'), 'Asia/Shanghai'), at(2026, 1, 2, 0, 0, 0), 'midnight is hour 0, ms dropped');
  t.same(fieldsInZone(new Date('2026-03-01T00:00:00Z'), 'America/New_York'), at(2026, 2, 28, 19, 0, 0), 'previous day west of UTC');
  t.throws(() => fieldsInZone(new Date(NaN), 'UTC'), RangeError);
  t.throws(() => fieldsInZone(new Date(0), 'Not/AZone'), /unknown time zone/);
});

t.test('localToDate: the same instant as localToIso, same DST rules, same rejections', async (t) => {
  t.equal(localToDate(at(2026, 12, 4, 8, 30, 15), 'Europe/Berlin').toISOString(), '2026-12-04T07:30:15.000Z');
  t.equal(localToDate(at(2026, 3, 29, 2, 30, 0), 'Europe/Berlin').toISOString(), '2026-03-29T01:30:00.000Z', 'skipped hour moves forward');
  t.equal(localToDate(at(2026, 10, 25, 2, 30, 0), 'Europe/Berlin').toISOString(), '2026-10-25T00:30:00.000Z', 'repeated hour: first occurrence');
  t.equal(localToDate(at(2026, 11, 1, 1, 30, 0), 'America/New_York').toISOString(), '2026-11-01T05:30:00.000Z', 'New York repeated hour: EDT');
  t.equal(localToDate(at(2026, 3, 8, 2, 30, 0), 'America/New_York').toISOString(), '2026-03-08T07:30:00.000Z', 'New York gap: 03:30 EDT');
  t.throws(() => localToDate(at(2026, 2, 30, 10, 0, 0), 'Europe/Berlin'), RangeError, 'Feb 30');
  t.throws(() => localToDate(at(2026, 2, 31, 10, 0, 0), 'Europe/Berlin'), /day 31 does not exist in 2026-02/, 'no roll-over to March');
  t.throws(() => localToDate(at(2026, 1, 1, 0, 0, 0), 'Mars/Olympus_Mons'), /unknown time zone/);
});

t.test('formatLocal prints the fields as given, without zone or validation', async (t) => {
  t.equal(formatLocal(at(2026, 12, 4, 8, 30, 15)), '2026-12-04T08:30:15');
  t.equal(formatLocal(at(2026, 2, 31, 0, 0, 0)), '2026-02-31T00:00:00', 'an impossible device time stays readable');
  t.equal(invalidLocalFieldsReason(at(2026, 2, 31, 0, 0, 0)), 'day 31 does not exist in 2026-02 (28 days)');
  t.equal(invalidLocalFieldsReason(at(2026, 12, 4, 8, 30, 15)), null);
});

t.test('the default zone is the box zone'
, async (t) => {
  const f = at(2026, 6, 1, 12, 0, 0);
  t.equal(localToIso(f), localToIso(f, boxTimeZone()));
  const d = new Date('2026-06-01T12:00:00.000Z');
  t.equal(isoInZone(d), isoInZone(d, boxTimeZone()));
  t.equal(localToDate(f).getTime(), localToDate(f, boxTimeZone()).getTime());
  t.same(fieldsInZone(d), fieldsInZone(d, boxTimeZone()));
});

const zones = ['Europe/Berlin', 'Asia/Shanghai', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kolkata', 'UTC', 'Pacific/Chatham'];
/** Instants and wall-clock times (days 1-28: every month has them) over 1971-2037. */
const instants = fc.integer({ min: Date.UTC(1971, 0, 1), max: Date.UTC(2037, 11, 31) });
const localFields = fc.record({
  y: fc.integer({ min: 1971, max: 2037 }),
  mo: fc.integer({ min: 1, max: 12 }),
  d: fc.integer({ min: 1, max: 28 }),
  h: fc.integer({ min: 0, max: 23 }),
  mi: fc.integer({ min: 0, max: 59 }),
  s: fc.integer({ min: 0, max: 59 }),
});

/** Runs `fn` with the box's zone set to `zone` (Node re-reads TZ when it is assigned). */
function withBoxZone<T>(zone: string, fn: () => T): T {
  const saved = process.env.TZ;
  process.env.TZ = zone;
  try {
    return fn();
  } finally {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  }
}

// The box's zone is read through Date's local time, a named zone through Intl: they must agree.
t.test('the box zone (no name) gives what naming the same zone gives, DST days included', async (t) => {
  withBoxZone('Europe/Berlin', () => {
    t.equal(boxTimeZone(), 'Europe/Berlin');
    t.equal(localToIso(at(2026, 3, 29, 2, 30, 0)), '2026-03-29T03:30:00+02:00', 'a time in the spring gap moves forward');
    t.equal(localToIso(at(2026, 10, 25, 2, 30, 0)), '2026-10-25T02:30:00+02:00', 'a repeated autumn time is its first occurrence');
    t.equal(isoInZone(new Date('2026-10-25T01:30:00Z')), '2026-10-25T02:30:00+01:00', 'the second occurrence keeps its offset');
    t.same(fieldsInZone(new Date('2026-12-04T07:30:15.900Z')), at(2026, 12, 4, 8, 30, 15));
    t.equal(offsetMsAt(Date.UTC(2026, 6, 1), undefined), 7_200_000);
  });
  for (const zone of zones) {
    withBoxZone(zone, () =>
      fc.assert(
        fc.property(
          instants,
          localFields,
          (ms, f) =>
            isoInZone(new Date(ms)) === isoInZone(new Date(ms), zone) &&
            localToIso(f) === localToIso(f, zone) &&
            localToDate(f).getTime() === localToDate(f, zone).getTime(),
        ),
        { numRuns: 300 },
      ),
    );
    t.pass(`${zone}: box zone and named zone agree`);
  }
});

t.test('property: isoInZone names the same instant, in every zone', async (t) => {
  fc.assert(
    fc.property(instants, fc.constantFrom(...zones), (ms, zone) => {
      const iso = isoInZone(new Date(ms), zone);
      return Date.parse(iso) === ms && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?[+-]\d\d:\d\d$/.test(iso);
    }),
  );
  t.pass('round trip holds');
});

t.test('property: localToIso keeps the wall time unless it falls in a DST gap', async (t) => {
  fc.assert(
    fc.property(
      localFields,
      fc.constantFrom(...zones),
      (f, zone) => {
        const iso = localToIso(f, zone);
        const instant = Date.parse(iso);
        // The ISO string is self-consistent: its wall part and offset name `instant`.
        if (isoInZone(new Date(instant), zone) !== iso) return false;
        const wall = `${String(f.y)}-${p2(f.mo)}-${p2(f.d)}T${p2(f.h)}:${p2(f.mi)}:${p2(f.s)}`;
        if (iso.startsWith(wall)) return true;
        // Otherwise the wall time did not exist: the result lies after it by the gap (< 3 h).
        const asUtc = Date.UTC(f.y, f.mo - 1, f.d, f.h, f.mi, f.s);
        const shown = Date.parse(iso.slice(0, 19) + 'Z');
        return shown > asUtc && shown - asUtc <= 3 * 3_600_000;
      },
    ),
  );
  t.pass('wall time kept');
});

t.test('property: fieldsInZone and localToDate invert each other away from DST overlaps', async (t) => {
  fc.assert(
    fc.property(instants, fc.constantFrom(...zones), (ms, zone) => {
      const whole = Math.floor(ms / 1000) * 1000;
      const f = fieldsInZone(new Date(ms), zone);
      const back = localToDate(f, zone).getTime();
      if (back === whole) return true;
      // Only the second occurrence of a repeated wall time maps back to the first one, earlier.
      return back < whole && whole - back <= 3 * 3_600_000 && isoInZone(new Date(back), zone).startsWith(formatLocal(f));
    }),
  );
  t.pass('round trip holds');
});

function p2(n: number): string {
  return String(n).padStart(2, '0');
}
