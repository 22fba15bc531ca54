// The line driver against real pseudo-terminals (socat): ordering, bad frames, store failures,
// unplug and replug at the same path, clean stop.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lineClockSchema, type LineClockConfig } from '../../../config/clocks.js';
import { LineConfigError } from '../../../drivers/line/line-format.js';
import { createLineDriver, LineClockDriver } from '../../../drivers/line/line-driver.js';
import { LineClockSim } from '../../../drivers/sim/line-clock-sim.js';
import type { DevicePunch, PunchSink } from '../../../drivers/types.js';
import { ptyPair, socatMissing } from '../../helpers/pty.js';
import { waitUntil } from '../wait-until.js';

const fastBackoff = { initialMs: 20, maxMs: 200 };

function config(port: string, extra: Partial<LineClockConfig> = {}): LineClockConfig {
  return lineClockSchema.parse({ id: 'door-1', driver: 'line', port, timezone: 'Europe/Berlin', ...extra });
}

function recordingSink(fail?: (p: DevicePunch) => boolean): { sink: PunchSink; punches: DevicePunch[] } {
  const punches: DevicePunch[] = [];
  const sink: PunchSink = (p) => {
    if (fail?.(p)) throw new Error('SQLITE_IOERR: disk I/O error');
    punches.push(p);
    return { id: `G:${punches.length}`, seq: punches.length, duplicate: false };
  };
  return { sink, punches };
}

t.test('bad config is refused at construction', async (t) => {
  const { sink } = recordingSink();
  t.throws(() => new LineClockDriver(config('/dev/null', { pattern: '^(?<id>\\d+)$' }), sink), LineConfigError);
  t.throws(() => createLineDriver(config('/dev/null', { timezone: 'Nowhere/Land' }), sink), /timezone: unknown time zone/);
});

t.test('real pty', { skip: socatMissing }, async (t) => {
  t.test('500 punches arrive in order, exactly once, with their fields', async (t) => {
    const pty = await ptyPair();
    t.teardown(() => pty.close());
    const { sink, punches } = recordingSink();
    const driver = new LineClockDriver(config(pty.device), sink, { backoff: fastBackoff });
    const connections: boolean[] = [];
    driver.on('connection', (c) => connections.push(c));
    await driver.start();
    await waitUntil(() => driver.status().connected, 'driver to open the pty');
    const sim = new LineClockSim({ path: pty.peer, timezone: 'Europe/Berlin' });
    await sim.open();
    t.teardown(() => sim.close());

    const base = Date.parse('2026-03-28T23:00:00Z'); // runs across the Berlin spring-forward
    const verifies = ['fp', 'card', 'pin', 'face'];
    const expected = ['fingerprint', 'card', 'pin', 'face'];
    // Batches of lines per write, like a device flushing its buffer.
    for (let i = 0; i < 500; i += 25) {
      const lines = [];
      for (let k = i; k < i + 25; k++) lines.push(sim.encodePunch({ user: `U${k}`, time: new Date(base + k * 37_000), verify: verifies[k % 4] }));
      await sim.sendRaw(Buffer.concat(lines));
    }
    await waitUntil(() => punches.length >= 500, '500 punches');
    t.equal(punches.length, 500);
    let inOrder = true;
    let fieldsOk = true;
    punches.forEach((p, k) => {
      if (p.user !== `U${k}`) inOrder = false;
      if (p.clock !== 'door-1' || p.verify !== expected[k % 4] || Date.parse(p.deviceTime!) !== base + k * 37_000) fieldsOk = false;
    });
    t.ok(inOrder, 'in order, none lost or repeated');
    t.ok(fieldsOk, 'clock, verify and instant correct for every punch');
    t.equal(punches[0].deviceTime, '2026-03-29T00:00:00+01:00');
    t.equal(punches[499].deviceTime, '2026-03-29T06:07:43+02:00', 'offset changes with DST');
    t.match(punches[1].raw, /^U1,2026-03-29 00:00:37,card$/);
    t.same(connections, [true]);
    t.match(driver.status(), { connected: true, framesOk: 500, framesBad: 0, punches: 500 });
    await driver.stop();
  });

  t.test('malformed lines are counted and emitted; later punches still arrive', async (t) => {
    const pty = await ptyPair();
    t.teardown(() => pty.close());
    const { sink, punches } = recordingSink();
    const driver = new LineClockDriver(config(pty.device), sink, { backoff: fastBackoff });
    const notices: Array<[string, Record<string, unknown>]> = [];
    driver.on('notice', (kind, detail) => notices.push([kind, detail]));
    await driver.start();
    await waitUntil(() => driver.status().connected, 'open');
    const sim = new LineClockSim({ path: pty.peer });
    await sim.open();
    t.teardown(() => sim.close());
    const garbage = ['1,2026-02-30 10:00:00', 'a b c', '\x00\x01\x02', '1,2,3,4,5', 'x'.repeat(5000), '7,25:00'];
    for (let i = 0; i < 50; i++) {
      await sim.sendPunch({ user: String(i) });
      await sim.sendRaw(garbage[i % garbage.length] + (i % 2 ? '\r' : '\n'));
    }
    await sim.sendPunch({ user: 'last', time: '2026-06-01 08:00:00', verify: 'card' });
    await waitUntil(() => punches.length >= 51, '51 punches');
    t.same(punches.map((p) => p.user), [...Array.from({ length: 50 }, (_, i) => String(i)), 'last']);
    t.equal(driver.status().framesBad, 50);
    t.equal(notices.length, 50);
    t.ok(notices.every(([kind]) => kind === 'bad-frame'));
    t.same(notices[0][1], { raw: '1,2026-02-30 10:00:00', reason: 'time "2026-02-30 10:00:00": day 30 does not exist in 2026-02 (28 days)' });
    t.match(notices[4][1], { reason: /longer than 1024 bytes/ });
    t.ok(String(notices[4][1].raw).length <= 64, 'only a sample of an overlong line is kept');
    t.equal(driver.status().framesOk, 51);
    t.ok(driver.status().lastFrameAt);
    await driver.stop();
  });

  t.test('a store failure is loud, invents nothing, and does not stop the driver', async (t) => {
    const pty = await ptyPair();
    t.teardown(() => pty.close());
    const { sink, punches } = recordingSink((p) => p.user === 'boom');
    const driver = new LineClockDriver(config(pty.device), sink, { backoff: fastBackoff });
    const notices: string[] = [];
    driver.on('notice', (kind) => notices.push(kind));
    await driver.start();
    await waitUntil(() => driver.status().connected, 'open');
    const sim = new LineClockSim({ path: pty.peer });
    await sim.open();
    t.teardown(() => sim.close());
    await sim.sendRaw('a\nboom\nb\n');
    await waitUntil(() => punches.length >= 2, 'punches after the failure');
    t.same(punches.map((p) => p.user), ['a', 'b']);
    t.same(notices, ['store-failed']);
    t.match(driver.status(), { punches: 2, storeFailures: 1, lastError: /store failed: SQLITE_IOERR/ });
    await driver.stop();
  });

  t.test('unplug and replug at the same path: reconnects by itself, no merged half line', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tpgw-line-unplug-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    let pty = await ptyPair(dir);
    const { sink, punches } = recordingSink();
    const driver = new LineClockDriver(config(pty.device), sink, { backoff: fastBackoff });
    const connections: Array<[boolean, string | undefined]> = [];
    const notices: Array<Record<string, unknown>> = [];
    driver.on('connection', (c, reason) => connections.push([c, reason]));
    driver.on('notice', (_kind, d) => notices.push(d));
    await driver.start();
    await waitUntil(() => driver.status().connected, 'open');
    let sim = new LineClockSim({ path: pty.peer });
    await sim.open();
    await sim.sendRaw('before\n12');
    await waitUntil(() => punches.length === 1, 'punch before unplug');
    // Let the driver read the half line before the cable goes.
    await new Promise((r) => setTimeout(r, 100));

    await pty.close(); // unplug: both ends vanish
    await sim.close();
    await waitUntil(() => connections.length === 2, 'disconnect event');
    t.equal(connections[1][0], false);
    t.equal(driver.status().connected, false);
    t.match(notices, [{ raw: '12', reason: /partial line cut off by disconnect/ }]);

    // The device is absent for a while: the driver keeps retrying with backoff.
    await new Promise((r) => setTimeout(r, 300));
    pty = await ptyPair(dir); // replug at the same path
    t.teardown(() => pty.close());
    await waitUntil(() => driver.status().connected, 'reconnect');
    t.same(connections.map((c) => c[0]), [true, false, true]);
    sim = new LineClockSim({ path: pty.peer });
    await sim.open();
    t.teardown(() => sim.close());
    await sim.sendRaw('34\nafter\n');
    await waitUntil(() => punches.length === 3, 'punches after replug');
    t.same(punches.map((p) => p.user), ['before', '34', 'after'], '"12" + "34" never became 1234');
    await driver.stop();
    t.equal(driver.status().connected, false);
  });
});

t.test('stop() leaves no handles behind: the process exits by itself', { skip: socatMissing }, async (t) => {
  const pty = await ptyPair();
  t.teardown(() => pty.close());
  // Two drivers in a child: one with the pty open, one retrying a missing device (backoff timer).
  const script = `
    import { LineClockDriver } from ${JSON.stringify(new URL('../../../drivers/line/line-driver.ts', import.meta.url).href)};
    const sink = () => ({ id: 'x', seq: 1, duplicate: false });
    const cfg = (port) => ({ id: 'c', driver: 'line', port, baudRate: 9600, preset: 'default', enabled: true });
    const open = new LineClockDriver(cfg(${JSON.stringify(pty.device)}), sink);
    const missing = new LineClockDriver(cfg('/nonexistent/tty'), sink, { backoff: { initialMs: 5, maxMs: 20 } });
    let errors = 0;
    missing.on('connection', () => errors++);
    await open.start();
    await missing.start();
    while (!open.status().connected || !missing.status().lastError) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 100));
    await Promise.all([open.stop(), missing.stop()]);
    console.log('stopped');
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve(null);
    }, 30_000);
    child.on('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  t.equal(code, 0, `child exited on its own after stop(): ${out}`);
  t.match(out, /stopped/);
});
