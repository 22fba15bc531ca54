// The line clock simulator driving the real LineClockDriver over in-process `sim:` ports (what
// demo mode uses), for every preset. Real-pty runs are in test/drivers/line/line-driver.test.ts.
import t from 'tap';
import { lineClockSchema, type LineClockConfig } from '../../../config/clocks.js';
import { LineClockDriver } from '../../../drivers/line/line-driver.js';
import { plugSimDevice } from '../../../drivers/serial/sim-binding.js';
import { LineClockSim } from '../../../drivers/sim/line-clock-sim.js';
import type { DevicePunch, PunchSink } from '../../../drivers/types.js';
import { waitUntil } from '../wait-until.js';

let n = 0;
const freshPath = () => `sim:line-sim-${process.pid}-${n++}`;
const backoff = { initialMs: 5, maxMs: 40 };

function setup(extra: Partial<LineClockConfig>, now?: () => Date) {
  const path = freshPath();
  const punches: DevicePunch[] = [];
  const sink: PunchSink = (p) => {
    punches.push(p);
    return { id: `G:${punches.length}`, seq: punches.length, duplicate: false };
  };
  const cfg = lineClockSchema.parse({ id: 'sim-clock', driver: 'line', port: path, ...extra });
  const driver = new LineClockDriver(cfg, sink, { backoff, now });
  return { path, punches, driver };
}

t.test('default preset: time printed in the clock zone comes back as the same instant', async (t) => {
  const { path, punches, driver } = setup({ timezone: 'Asia/Shanghai' });
  const sim = new LineClockSim({ path, timezone: 'Asia/Shanghai' });
  t.equal(sim.encodePunch({ user: '7', time: new Date('2026-05-04T00:00:00Z'), verify: 'card' }).toString(), '7,2026-05-04 08:00:00,card\r\n');
  t.equal(sim.encodePunch({ user: '7', verify: 'pin' }).toString(), '7,,pin\r\n');
  await sim.open();
  t.equal(await sim.sendPunch({ user: 'early' }), false, 'nobody listening yet: dropped, like a real UART');
  t.equal(sim.droppedWrites, 1);
  await driver.start();
  await waitUntil(() => driver.status().connected, 'open');
  t.equal(await sim.sendPunch({ user: '7', time: new Date('2026-05-04T00:00:00Z'), verify: 'card' }), true);
  await sim.sendRaw('  \t \r\n'); // a blank keep-alive line is neither a punch nor a bad frame
  await sim.sendPunch({ user: '8', verify: 'fingerprint' });
  await sim.sendPunch({ user: '9', time: '2026-05-04 08:00:61' });
  await sim.sendPunch({ user: '10' });
  await waitUntil(() => punches.length === 3, 'three punches');
  t.equal(driver.status().framesBad, 1, 'only the impossible time is a bad frame');
  t.same(punches.slice(0, 2), [
    { clock: 'sim-clock', user: '7', verify: 'card', raw: '7,2026-05-04 08:00:00,card', deviceTime: '2026-05-04T08:00:00+08:00' },
    { clock: 'sim-clock', user: '8', verify: 'fingerprint', raw: '8,,fingerprint' },
  ]);
  await driver.stop();
  await sim.close();
});

t.test('rdm6300: a held card is one punch; lifting it for the window makes another', async (t) => {
  let clock = Date.parse('2026-05-04T08:00:00Z');
  const { path, punches, driver } = setup({ preset: 'rdm6300' }, () => new Date(clock));
  const sim = new LineClockSim({ path, preset: 'rdm6300' });
  await sim.open();
  await driver.start();
  await waitUntil(() => driver.status().connected, 'open');
  const send = async (card: string) => {
    const before = driver.status().framesOk;
    await sim.sendPunch({ user: card });
    await waitUntil(() => driver.status().framesOk === before + 1, 'frame read');
  };
  for (let i = 0; i < 30; i++) {
    await send('1A0047F3C2'); // held: the module repeats the frame every ~100 ms
    clock += 100;
  }
  // The last sighting of the held card was 100 ms ago.
  await send('0000ABCDEF'); // a second card in the meantime
  clock += 1800;
  await send('1A0047F3C2'); // 1.9 s after the last sighting: still the same punch
  clock += 2000;
  await send('1A0047F3C2'); // a full 2 s without it: a new punch
  await sim.sendRaw(Buffer.from([0x02, 0x31, 0x03]));
  await waitUntil(() => driver.status().framesBad === 1, 'short frame counted');
  t.same(punches.map((p) => p.user), ['1A0047F3C2', '0000ABCDEF', '1A0047F3C2']);
  t.same(punches[0], {
    clock: 'sim-clock',
    user: '1A0047F3C2',
    verify: 'card',
    raw: '02314130303437463343323643' + '03',
    extra: { cardNumber: '4715458', version: '1A' },
  });
  t.match(driver.status(), { framesOk: 33, punches: 3, repeatsSuppressed: 30, preset: 'rdm6300', lastFrameAt: new Date(clock).toISOString() });
  await driver.stop();
  await sim.close();
});

t.test('wiegand-ascii: card ids per line; repeat window configurable', async (t) => {
  const { path, punches, driver } = setup({ preset: 'wiegand-ascii', repeatSuppressMs: 0 });
  const sim = new LineClockSim({ path, preset: 'wiegand-ascii' });
  await sim.open();
  await driver.start();
  await waitUntil(() => driver.status().connected, 'open');
  await sim.sendPunch({ user: '0012345678' });
  await sim.sendPunch({ user: '0012345678' });
  await sim.sendRaw('not a card\r\n');
  await waitUntil(() => punches.length === 2 && driver.status().framesBad === 1, 'punches');
  t.same(punches.map((p) => [p.user, p.verify]), [['0012345678', 'card'], ['0012345678', 'card']], 'window 0: every read counts');
  await driver.stop();
  await sim.close();
});

t.test('random demo mode and a simulated unplug', async (t) => {
  const { path, punches, driver } = setup({});
  const connections: boolean[] = [];
  driver.on('connection', (c) => connections.push(c));
  const sim = new LineClockSim({ path });
  await sim.open();
  await driver.start();
  await waitUntil(() => driver.status().connected, 'open');
  sim.startRandom({ users: ['alice', 'bob'], everyMs: 5 });
  await waitUntil(() => punches.length >= 5, 'random punches');
  t.ok(punches.every((p) => ['alice', 'bob'].includes(p.user) && p.deviceTime && p.verify !== 'unknown'));
  plugSimDevice(path).unplug();
  await waitUntil(() => connections.at(-1) === false, 'disconnect seen');
  plugSimDevice(path);
  await waitUntil(() => connections.at(-1) === true, 'reconnected');
  const count = punches.length;
  await waitUntil(() => punches.length > count + 3, 'punches after replug');
  sim.stopRandom();
  t.same(connections, [true, false, true]);
  t.throws(() => sim.startRandom({ users: [], everyMs: 5 }), RangeError);
  await driver.stop();
  await sim.close();
});
