// HidWedgeDriver fed recorded report sequences through a fake HidSource (the same 'data'/'error'
// path node-hid uses: no virtual HID device can be created here), plus the Linux grab helpers.
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hidWedgeClockSchema } from '../../config/clocks.js';
import { evdevNodesForHidraw, grabEvdev, type EvdevGrab } from '../../drivers/hid/evdev-grab.js';
import { HidDeviceMissingError, openNodeHid } from '../../drivers/hid/hid-device.js';
import { HidWedgeDriver } from '../../drivers/hid/hid-wedge-driver.js';
import { hidWedgeUdevRules } from '../../drivers/hid/udev-rules.js';
import { reportsFor } from '../../drivers/sim/hid-reports.js';
import { SimulatedHidReader } from '../../drivers/sim/hid-sim.js';
import type { DevicePunch, StoredPunchRef } from '../../drivers/types.js';
import { until as waitFor } from '../helpers/until.js';

/** The simulated reader, minus its closed-guard: a dead handle can still "emit" late reports. */
class FakeHid extends SimulatedHidReader {
  override feed(reports: Buffer[]): void {
    for (const r of reports) this.emit('data', r);
  }
}

function setup(extra: Record<string, unknown> = {}, opts: { present?: () => boolean; grab?: (p: string) => Promise<EvdevGrab> } = {}) {
  const cfg = hidWedgeClockSchema.parse({ id: 'door', driver: 'hid-wedge', vendorId: 0xffff, productId: 0x0035, ...extra });
  const punches: DevicePunch[] = [];
  const notices: [string, Record<string, unknown>][] = [];
  const connections: boolean[] = [];
  const sources: FakeHid[] = [];
  let clock = 0;
  let seq = 0;
  const driver = new HidWedgeDriver(
    cfg,
    (p): StoredPunchRef => {
      punches.push(p);
      return { id: `G:${++seq}`, seq, duplicate: false };
    },
    {
      backoff: { initialMs: 5, maxMs: 20 },
      now: () => clock,
      grab: opts.grab,
      open: () => {
        if (opts.present && !opts.present()) throw new Error('no HID device ffff:0035 is attached');
        const s = new FakeHid('/dev/hidraw7');
        sources.push(s);
        return s;
      },
    },
  );
  driver.on('notice', (k, d) => notices.push([k, d]));
  driver.on('connection', (c) => connections.push(c));
  return {
    driver,
    punches,
    notices,
    connections,
    sources,
    advance: (ms: number) => (clock += ms),
    get current() {
      return sources.at(-1)!;
    },
  };
}

t.test('a code is exactly one punch; doubled digits, report IDs and rollover', async (t) => {
  const s = setup();
  await s.driver.start();
  await waitFor('open', () => s.driver.status().connected);
  s.current.feed(reportsFor('0012345678'));
  t.equal(s.punches.length, 1);
  t.match(s.punches[0], { clock: 'door', user: '0012345678', verify: 'card', extra: { terminator: 'enter' } });
  t.equal(s.punches[0].raw.split(' ').length, 21, 'raw keeps every report up to the terminator press');
  s.current.swipe('4411', { reportId: 1 });
  s.current.feed(reportsFor('7007', { rollover: true, terminator: 'tab' }));
  t.same(s.punches.map((p) => p.user), ['0012345678', '4411', '7007']);
  t.match(s.driver.status(), { connected: true, punches: 3, framesBad: 0 });
  t.ok(s.driver.status().framesOk > 0);
  await s.driver.stop();
  t.ok(s.current.closed, 'device closed on stop');
  t.same(s.connections, [true, false]);
});

t.test('verify method from config; repeat suppression; garbage reports are counted, not fatal', async (t) => {
  const s = setup({ verify: 'pin', repeatSuppressMs: 2000 });
  await s.driver.start();
  await waitFor('open', () => s.driver.status().connected);
  s.current.feed(reportsFor('555'));
  s.advance(500);
  s.current.feed(reportsFor('555'));
  s.advance(3000);
  s.current.feed([Buffer.from([1, 2, 3]), Buffer.alloc(64, 0x1e)]);
  s.current.feed(reportsFor('555'));
  t.same(s.punches.map((p) => [p.user, p.verify]), [['555', 'pin'], ['555', 'pin']]);
  t.ok(s.notices.some(([k]) => k === 'repeat-suppressed'));
  t.equal(s.driver.status().framesBad, 2);
  await s.driver.stop();
});

t.test('an unterminated code is dropped after the inter-key timeout', async (t) => {
  const s = setup({ interKeyTimeoutMs: 20 });
  await s.driver.start();
  await waitFor('open', () => s.driver.status().connected);
  s.current.feed(reportsFor('123', { terminator: 'none' }));
  s.advance(100);
  await waitFor('drop notice', () => s.notices.some(([k]) => k === 'incomplete-code'));
  t.match(s.notices.find(([k]) => k === 'incomplete-code')?.[1], { partial: '123', reason: 'timeout' });
  s.current.feed(reportsFor('456'));
  t.same(s.punches.map((p) => p.user), ['456'], 'the stale digits do not prefix the next code');
  await s.driver.stop();
});

t.test('unplug error: reconnects with backoff and reads again', async (t) => {
  let present = true;
  const s = setup({}, { present: () => present });
  await s.driver.start();
  await waitFor('open', () => s.driver.status().connected);
  s.current.feed(reportsFor('11', { terminator: 'none' }));
  present = false;
  const first = s.current;
  first.unplug();
  await waitFor('disconnected', () => !s.driver.status().connected);
  t.ok(first.closed);
  t.match(s.driver.status().lastError, /could not read/);
  await waitFor('a failed reopen', () => /not attached|no HID device/.test(s.driver.status().lastError ?? ''));
  present = true;
  await waitFor('reconnected', () => s.driver.status().connected);
  t.not(s.current, first, 'a fresh device handle');
  first.feed(reportsFor('999')); // a late event from the dead handle is ignored
  s.current.feed(reportsFor('22'));
  t.same(s.punches.map((p) => p.user), ['22'], 'half a code before the unplug is not glued to the next one');
  t.same(s.connections, [true, false, true]);
  await s.driver.stop();
});

t.test('grab: taken after open, released on unplug and stop; a failed grab is a notice only', async (t) => {
  const grabs: string[] = [];
  let released = 0;
  const s = setup({ grab: true }, {
    grab: async (p) => {
      grabs.push(p);
      return { nodes: ['/dev/input/event9'], ended: new Promise(() => undefined), release: async () => void released++ };
    },
  });
  await s.driver.start();
  await waitFor('grabbed', () => grabs.length === 1);
  t.same(grabs, ['/dev/hidraw7']);
  s.current.unplug();
  await waitFor('reconnected + regrabbed', () => grabs.length === 2);
  t.equal(released, 1);
  await s.driver.stop();
  t.equal(released, 2);

  const f = setup({ grab: true }, { grab: async () => Promise.reject(new Error('Permission denied')) });
  await f.driver.start();
  await waitFor('grab notice', () => f.notices.some(([k]) => k === 'grab-failed'));
  f.current.feed(reportsFor('31337'));
  t.same(f.punches.map((p) => p.user), ['31337'], 'reading continues without the grab');
  await f.driver.stop();
});

t.test('evdev nodes are found through sysfs', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'tpgw-sysfs-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const inputDir = join(root, 'class', 'hidraw', 'hidraw3', 'device', 'input');
  mkdirSync(join(inputDir, 'input17', 'event5'), { recursive: true });
  mkdirSync(join(inputDir, 'input17', 'mouse0'), { recursive: true });
  mkdirSync(join(inputDir, 'input18', 'event6'), { recursive: true });
  writeFileSync(join(inputDir, 'uevent'), '');
  t.same(evdevNodesForHidraw('/dev/hidraw3', root), ['/dev/input/event5', '/dev/input/event6']);
  t.same(evdevNodesForHidraw('/dev/hidraw9', root), []);
});

t.test('grabEvdev issues the real ioctl: a non-evdev file is refused with the kernel error', { skip: existsSync('/usr/bin/python3') ? false : 'needs /usr/bin/python3 (apt-get install -y python3)' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tpgw-grab-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'event0');
  writeFileSync(file, '');
  await t.rejects(grabEvdev([file]), /Inappropriate ioctl|not a typewriter|ENOTTY/);
  await t.rejects(grabEvdev([join(dir, 'missing')]), /No such file/);
  await t.rejects(grabEvdev([]), /no evdev node/);
});

t.test('udev rules for hidraw access and the evdev grab', async (t) => {
  const text = hidWedgeUdevRules({ vendorId: 0xffff, productId: 0x35, label: 'door' });
  t.match(text, /SUBSYSTEM=="hidraw", ATTRS\{idVendor\}=="ffff", ATTRS\{idProduct\}=="0035", MODE="0660", GROUP="tpgw"/);
  t.match(text, /SUBSYSTEM=="input", KERNEL=="event\*".*ENV\{LIBINPUT_IGNORE_DEVICE\}="1"/);
  t.throws(() => hidWedgeUdevRules({ vendorId: 1, productId: 2, group: 'x"; RUN+="/bin/sh' }));
});

t.test('openNodeHid: an absent reader is a clear "not attached" error', async (t) => {
  const hid = await import('node-hid').catch(() => null);
  if (!hid) {
    t.comment('node-hid not installed (optional dependency: npm install node-hid)');
    return;
  }
  const err = await openNodeHid({ vendorId: 0x0000, productId: 0x0001 }).catch((e: unknown) => e);
  t.ok(err instanceof HidDeviceMissingError, String(err));
  t.match((err as Error).message, /no HID device 0000:0001/);
});
