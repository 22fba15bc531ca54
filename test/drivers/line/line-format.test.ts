import t from 'tap';
import fc from 'fast-check';
import { LineConfigError, LineFormat, parseVerifyWord } from '../../../drivers/line/line-format.js';
import { boxTimeZone, localToIso } from '../../../drivers/time/zoned-time.js';

const berlin = new LineFormat({ timezone: 'Europe/Berlin' });

t.test('default format: user only, user + time, user + time + verify', async (t) => {
  t.same(berlin.parse('123'), { ok: true, value: { user: '123', verify: 'unknown' } });
  t.same(berlin.parse('00042,2026-05-04 07:30:00'), {
    ok: true,
    value: { user: '00042', verify: 'unknown', deviceTime: '2026-05-04T07:30:00+02:00' },
  }, 'leading zeros kept, summer offset');
  t.same(berlin.parse('  7 , 2026-01-04 07:30:00 ,  FP  '), {
    ok: true,
    value: { user: '7', verify: 'fingerprint', deviceTime: '2026-01-04T07:30:00+01:00' },
  }, 'blanks around fields tolerated, winter offset');
  t.same(berlin.parse('7,2026-01-04T07:30:00,card'), {
    ok: true,
    value: { user: '7', verify: 'card', deviceTime: '2026-01-04T07:30:00+01:00' },
  }, 'T separator');
  t.same(berlin.parse('7,,pin'), { ok: true, value: { user: '7', verify: 'pin' } }, 'empty time field means no time');
  t.same(berlin.parse('A-17_x'), { ok: true, value: { user: 'A-17_x', verify: 'unknown' } });
  const shanghai = new LineFormat({ timezone: 'Asia/Shanghai', verify: 'card' });
  t.same(shanghai.parse('9,2026-05-04 07:30:00'), {
    ok: true,
    value: { user: '9', verify: 'card', deviceTime: '2026-05-04T07:30:00+08:00' },
  }, 'configured verify when the line has none');
});

t.test('verify words and codes', async (t) => {
  const table: Array<[string, string]> = [
    ['fingerprint', 'fingerprint'], ['FP', 'fingerprint'], ['finger', 'fingerprint'], ['1', 'fingerprint'],
    ['card', 'card'], ['RFID', 'card'], ['ic', 'card'], ['2', 'card'],
    ['pin', 'pin'], ['password', 'password'], ['pwd', 'password'], ['0', 'password'],
    ['face', 'face'], ['15', 'face'], ['iris', 'unknown'], ['7', 'unknown'], ['', 'unknown'],
  ];
  for (const [word, method] of table) t.equal(parseVerifyWord(word), method, word);
  t.same(berlin.parse('5,2026-05-04 07:30:00,palm'), {
    ok: true,
    value: { user: '5', verify: 'unknown', deviceTime: '2026-05-04T07:30:00+02:00' },
  }, 'unknown word is not an error');
});

t.test('DST edges in the device zone', async (t) => {
  const r = berlin.parse('1,2026-03-29 02:30:00');
  t.ok(r.ok && r.value.deviceTime === '2026-03-29T03:30:00+02:00', 'time in the skipped hour');
  const a = berlin.parse('1,2026-10-25 02:30:00');
  t.ok(a.ok && a.value.deviceTime === '2026-10-25T02:30:00+02:00', 'repeated hour resolves to the first');
});

t.test('bad lines are rejected with a reason', async (t) => {
  const bad: Array<[string, RegExp]> = [
    ['', /empty/],
    ['   ', /empty/],
    ['a b', /user/],
    ['1,2,3,4', /4 fields/],
    ['1,2026-02-30 10:00:00', /day 30 does not exist/],
    ['1,2026-02-29 10:00:00', /day 29 does not exist/],
    ['1,2026-05-04 25:00:00', /hour 25/],
    ['1,2026-05-04 23:61:00', /minute 61/],
    ['1,2026-13-04 10:00:00', /month 13/],
    ['1,yesterday', /not YYYY-MM-DD HH:mm:ss/],
    ['1,2026-5-4 7:30:00', /not YYYY-MM-DD HH:mm:ss/],
    ['1\x00', /control characters/],
    ['\x1b[2J', /control characters/],
    ['x'.repeat(65), /user/],
    ['ÿþý', /user/],
    [',2026-05-04 10:00:00', /user/],
  ];
  for (const [line, reason] of bad) {
    const r = berlin.parse(line);
    t.equal(r.ok, false, JSON.stringify(line));
    if (!r.ok) t.match(r.reason, reason);
  }
});

t.test('custom pattern with named groups', async (t) => {
  const f = new LineFormat({
    pattern: String.raw`^(?<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\s+ID=(?<user>\d+)\s+(?<verify>\w+)$`,
    timezone: 'Asia/Shanghai',
  });
  t.same(f.parse('2026-05-04 07:30:00 ID=0815 FINGER'), {
    ok: true,
    value: { user: '0815', verify: 'fingerprint', deviceTime: '2026-05-04T07:30:00+08:00' },
  });
  const r = f.parse('2026-02-30 07:30:00 ID=0815 FINGER');
  t.ok(!r.ok && /day 30/.test(r.reason), 'time from the pattern is validated too');
  const nm = f.parse('hello');
  t.ok(!nm.ok && /does not match/.test(nm.reason));

  const userOnly = new LineFormat({ pattern: String.raw`^CARD:(?<user>[0-9A-F]+)(?:;(?<verify>\w+))?$`, verify: 'card' });
  t.same(userOnly.parse('CARD:00AB12'), { ok: true, value: { user: '00AB12', verify: 'card' } }, 'no time group: gateway stamps');
  t.same(userOnly.parse('CARD:00AB12;pin'), { ok: true, value: { user: '00AB12', verify: 'pin' } });
  const empty = new LineFormat({ pattern: '^(?<user>\\d*)#$' }).parse('#');
  t.ok(!empty.ok && /empty/.test(empty.reason), 'empty user group is rejected');
});

t.test('config errors are raised at construction', async (t) => {
  t.throws(() => new LineFormat({ pattern: '(' }), LineConfigError);
  t.throws(() => new LineFormat({ pattern: '(' }), /pattern: not a valid regular expression/);
  t.throws(() => new LineFormat({ pattern: String.raw`^(?<id>\d+)$` }), /pattern: must have a named group \(\?<user>/);
  t.throws(() => new LineFormat({ pattern: String.raw`^(\d+)$` }), /named group/);
  t.throws(() => new LineFormat({ timezone: 'Mars/Base' }), /timezone: unknown time zone "Mars\/Base"/);
  const e = (() => {
    try {
      new LineFormat({ pattern: '[' });
    } catch (err) {
      return err as LineConfigError;
    }
  })();
  t.equal(e?.key, 'pattern');
});

t.test('default zone is the box zone', async (t) => {
  const r = new LineFormat().parse('1,2026-08-01 12:00:00');
  t.ok(r.ok);
  if (r.ok) t.equal(r.value.deviceTime, localToIso({ y: 2026, mo: 8, d: 1, h: 12, mi: 0, s: 0 }, boxTimeZone()));
});

t.test('property: any text parses or is rejected, never throws', async (t) => {
  const withPattern = new LineFormat({ pattern: String.raw`^(?<user>\w+)(?:\|(?<time>[^|]*))?(?:\|(?<verify>.*))?$` });
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.stringMatching(/^[0-9,:\- a-z]{0,40}$/)), (s) => {
      for (const f of [berlin, withPattern]) {
        const r = f.parse(s);
        if (r.ok) {
          if (r.value.user === '' || (f === berlin && /[\s,]/.test(r.value.user))) return false;
          if (r.value.deviceTime !== undefined && Number.isNaN(Date.parse(r.value.deviceTime))) return false;
        } else if (typeof r.reason !== 'string' || r.reason === '') return false;
      }
      return true;
    }),
    { numRuns: 2000 },
  );
  t.pass('no throw, results well-formed');
});

t.test('property: well-formed lines parse to what was printed', async (t) => {
  const shanghai = new LineFormat({ timezone: 'Asia/Shanghai' });
  const words = { fingerprint: 'fingerprint', fp: 'fingerprint', card: 'card', pin: 'pin', face: 'face' } as const;
  fc.assert(
    fc.property(
      fc.stringMatching(/^[A-Za-z0-9_-]{1,20}$/),
      fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2037-12-31T00:00:00Z'), noInvalidDate: true }),
      fc.constantFrom(...(Object.keys(words) as Array<keyof typeof words>)),
      fc.constantFrom('', ' ', '  '),
      (user, date, word, sp) => {
        const wall = new Date(date.getTime() + 8 * 3_600_000).toISOString().slice(0, 19).replace('T', ' ');
        const r = shanghai.parse(`${user},${sp}${wall},${sp}${word.toUpperCase()}`);
        return (
          r.ok &&
          r.value.user === user &&
          r.value.verify === words[word] &&
          Date.parse(r.value.deviceTime!) === Math.floor(date.getTime() / 1000) * 1000
        );
      },
    ),
    { numRuns: 500 },
  );
  t.pass('round trip holds');
});
