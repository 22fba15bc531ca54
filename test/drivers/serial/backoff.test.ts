import t from 'tap';
import { Backoff } from '../../../drivers/serial/backoff.js';

t.test('doubles from the initial delay to the cap, jitter within [step/2, step]', async (t) => {
  const lo = new Backoff({ initialMs: 250, maxMs: 10_000, random: () => 0 });
  const hi = new Backoff({ initialMs: 250, maxMs: 10_000, random: () => 0.999999 });
  const low = Array.from({ length: 10 }, () => lo.next());
  const high = Array.from({ length: 10 }, () => hi.next());
  t.same(low, [125, 250, 500, 1000, 2000, 4000, 5000, 5000, 5000, 5000]);
  t.same(high, [250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000, 10_000]);
  lo.reset();
  t.equal(lo.next(), 125, 'reset starts over');
});

t.test('defaults are 250 ms to 10 s', async (t) => {
  const b = new Backoff();
  const delays = Array.from({ length: 30 }, () => b.next());
  t.ok(delays.every((d) => d >= 125 && d <= 10_000));
  t.ok(delays.slice(-5).every((d) => d >= 5000), 'capped steps stay at the cap');
});
