// R30xDriver against the simulated module over real pseudo-terminals (socat).
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { r30xClockSchema } from '../../config/clocks.js';
import { decodePacket, Pid } from '../../drivers/r30x/packet.js';
import { R30xDriver, type EnrollStep } from '../../drivers/r30x/r30x-driver.js';
import { fingerTemplate, R30xSimulator, type R30xSimOptions } from '../../drivers/sim/r30x-sim.js';
import type { DevicePunch, StoredPunchRef } from '../../drivers/types.js';
import { ptyPair, socatMissing, type PtyPair } from '../helpers/pty.js';
import { until as waitFor } from '../helpers/until.js';

interface Rig {
  pty: PtyPair;
  sim: R30xSimulator;
  driver: R30xDriver;
  punches: DevicePunch[];
  notices: [string, Record<string, unknown>][];
  connections: boolean[];
  /** Waits until the driver has polled the sensor `n` more times. */
  polls(n: number): Promise<void>;
}

async function rig(t: Test, extra: Record<string, unknown> = {}, simOpts: R30xSimOptions = {}): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'tpgw-r30x-'));
  const pty = await ptyPair(dir);
  const sim = await R30xSimulator.open(pty.peer, simOpts);
  const punches: DevicePunch[] = [];
  let seq = 0;
  const sink = (p: DevicePunch): StoredPunchRef => {
    punches.push(p);
    return { id: `G:${++seq}`, seq, duplicate: false };
  };
  const cfg = r30xClockSchema.parse({ id: 'fp1', driver: 'r30x', port: pty.device, pollMs: 15, ...extra });
  const driver = new R30xDriver(cfg, sink, { backoff: { initialMs: 20, maxMs: 200 }, commandTimeoutMs: 400, enrollTimeoutMs: 10_000 });
  const notices: Rig['notices'] = [];
  const connections: boolean[] = [];
  driver.on('notice', (k, d) => notices.push([k, d]));
  driver.on('connection', (c) => connections.push(c));
  const r: Rig = {
    pty,
    sim,
    driver,
    punches,
    notices,
    connections,
    async polls(n) {
      const from = r.sim.received.get('genImg') ?? 0;
      await waitFor(`${n} polls`, () => (r.sim.received.get('genImg') ?? 0) >= from + n);
    },
  };
  t.teardown(async () => {
    await driver.stop();
    await r.sim.close();
    await r.pty.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return r;
}

t.test('r30x driver over a pty', { skip: socatMissing }, async (t) => {
  t.test('one touch is one punch with page and score; a new touch punches again', async (t) => {
    const r = await rig(t);
    r.sim.enroll(7, 'alice');
    await r.driver.start();
    await waitFor('connected', () => r.driver.status().connected);
    r.sim.placeFinger('alice', 88);
    await waitFor('punch', () => r.punches.length === 1);
    await r.polls(5); // finger still on the sensor
    t.equal(r.punches.length, 1, 'finger held: still one punch');
    const p = r.punches[0];
    t.equal(p.user, '7');
    t.equal(p.verify, 'fingerprint');
    t.equal(p.clock, 'fp1');
    t.same(p.extra, { page: 7, score: 88 });
    const ack = decodePacket(Buffer.from(p.raw, 'hex'));
    t.equal(ack.pid, Pid.ack);
    t.same([...ack.payload], [0, 0, 7, 0, 88], 'raw is the search ack');
    r.sim.liftFinger();
    await r.polls(2);
    r.sim.placeFinger('alice');
    await waitFor('second punch', () => r.punches.length === 2);
    const s = r.driver.status();
    t.equal(s.punches, 2);
    t.ok(s.framesOk > 0);
    t.equal(s.connected, true);
    t.same(r.connections, [true]);
  });

  t.test('unknown finger and low score are notices, not punches', async (t) => {
    const r = await rig(t, { minScore: 50, search: 'highspeed' });
    r.sim.enroll(3, 'bob');
    await r.driver.start();
    await waitFor('connected', () => r.driver.status().connected);
    r.sim.placeFinger('unknown');
    await waitFor('rejection', () => r.notices.some(([k]) => k === 'finger-rejected'));
    await r.polls(3);
    t.equal(r.notices.filter(([k]) => k === 'finger-rejected').length, 1, 'one notice per touch');
    r.sim.liftFinger();
    await r.polls(2);
    r.sim.placeFinger('bob', 20);
    await waitFor('low score rejection', () => r.notices.filter(([k]) => k === 'finger-rejected').length === 2);
    t.match(r.notices.at(-1)?.[1], { reason: 'low-score', page: 3, score: 20 });
    r.sim.liftFinger();
    await r.polls(2);
    r.sim.placeFinger('bob', 50);
    await waitFor('punch', () => r.punches.length === 1);
    t.equal(r.punches[0].user, '3');
    t.equal(r.sim.received.get('search') ?? 0, 0, 'HighSpeedSearch used as configured');
    t.ok((r.sim.received.get('highSpeedSearch') ?? 0) >= 3);
  });

  t.test('enroll into the first free page, list, delete; the enrolling touch is no punch', async (t) => {
    const r = await rig(t);
    r.sim.enroll(0, 'a');
    r.sim.enroll(1, 'b');
    r.sim.enroll(3, 'd');
    await r.driver.start();
    await waitFor('connected', () => r.driver.status().connected);
    const steps: EnrollStep[] = [];
    const result = await r.driver.enroll(undefined, (step) => {
      steps.push(step);
      if (step === 'place-finger' || step === 'place-finger-again') r.sim.placeFinger('carol');
      if (step === 'lift-finger') r.sim.liftFinger();
    });
    t.same(result, { page: 2 });
    t.same(steps, ['place-finger', 'lift-finger', 'place-finger-again', 'combining', 'stored']);
    t.ok(r.sim.library.get(2)?.equals(fingerTemplate('carol')), 'template stored at page 2');
    await r.polls(3);
    t.equal(r.punches.length, 0, 'finger still on after enroll: no punch');
    r.sim.liftFinger();
    await r.polls(2);
    r.sim.placeFinger('carol');
    await waitFor('punch', () => r.punches.length === 1);
    t.equal(r.punches[0].user, '2');

    t.same(await r.driver.listTemplates(), [0, 1, 2, 3]);
    await r.driver.deleteTemplate(1);
    t.same(await r.driver.listTemplates(), [0, 2, 3]);
    await t.rejects(r.driver.deleteTemplate(5000), RangeError);
    const params = await r.driver.systemParameters();
    t.match(params, { capacity: 1000, packetSize: 128, baudRate: 57600, address: 0xffffffff, securityLevel: 3 });

    // Two different fingers cannot be combined: enroll fails and nothing is stored.
    let n = 0;
    await t.rejects(
      r.driver.enroll(9, (step) => {
        if (step === 'place-finger' || step === 'place-finger-again') r.sim.placeFinger(`finger-${n++}`);
        if (step === 'lift-finger') r.sim.liftFinger();
      }),
      { name: 'R30xModuleError', codeName: 'combineFailed' },
    );
    t.notOk(r.sim.library.has(9));
  });

  t.test('backup, then restore into an empty module with another packet size', async (t) => {
    const a = await rig(t);
    for (const [page, name] of [[0, 'x'], [5, 'y'], [300, 'z']] as const) a.sim.enroll(page, name);
    await a.driver.start();
    await waitFor('connected', () => a.driver.status().connected);
    const backup = await a.driver.backupTemplates();
    t.same(backup.map((b) => b.page), [0, 5, 300]);
    t.ok(Buffer.from(backup[2].template, 'base64').equals(fingerTemplate('z')));

    const b = await rig(t, {}, { packetSizeCode: 0 });
    await b.driver.start();
    await waitFor('connected', () => b.driver.status().connected);
    t.same(await b.driver.listTemplates(), []);
    await t.rejects(b.driver.restoreTemplates([{ page: 1, template: '***' }]), /base64/);
    t.same(await b.driver.restoreTemplates(backup), { restored: 3 });
    t.same(await b.driver.listTemplates(), [0, 5, 300]);
    for (const [page, name] of [[0, 'x'], [5, 'y'], [300, 'z']] as const) t.ok(b.sim.library.get(page)?.equals(fingerTemplate(name)), `page ${page} intact`);
    b.sim.placeFinger('z');
    await waitFor('punch on the replacement', () => b.punches.length === 1);
    t.equal(b.punches[0].user, '300');
  });

  t.test('password: wrong one never connects, right one does', async (t) => {
    const wrong = await rig(t, { password: '00000001' }, { password: 0xabcd });
    await wrong.driver.start();
    await waitFor('a handshake attempt', () => (wrong.sim.received.get('vfyPwd') ?? 0) >= 2);
    t.equal(wrong.driver.status().connected, false);
    t.match(wrong.driver.status().lastError, /wrong module password/);
    t.equal(wrong.sim.received.get('readSysPara') ?? 0, 0);

    const none = await rig(t, {}, { password: 0xabcd });
    await none.driver.start();
    await waitFor('refusal', () => /password/.test(none.driver.status().lastError ?? ''));
    t.equal(none.driver.status().connected, false, 'no password configured: module refuses');

    const right = await rig(t, { password: '0000ABCD' }, { password: 0xabcd });
    right.sim.enroll(1, 'p');
    await right.driver.start();
    await waitFor('connected', () => right.driver.status().connected);
    right.sim.placeFinger('p');
    await waitFor('punch', () => right.punches.length === 1);
  });

  t.test('garbage and corrupted replies are counted and survived', async (t) => {
    const r = await rig(t);
    r.sim.enroll(4, 'g');
    await r.driver.start();
    await waitFor('connected', () => r.driver.status().connected);
    r.sim.injectGarbage(Buffer.from('EF01FFFFFFFF0701020000deadbeef', 'hex'));
    r.sim.corruptNextReplies(2);
    await r.polls(4);
    r.sim.placeFinger('g');
    await waitFor('punch', () => r.punches.length === 1);
    t.ok(r.driver.status().framesBad > 0, 'bad frames counted');
    t.ok(r.notices.some(([k]) => k === 'bad-frame'));
    t.equal(r.driver.status().connected, true);
  });

  t.test('unplug and replug: reopens and punches again', async (t) => {
    const r = await rig(t);
    r.sim.enroll(2, 'u');
    await r.driver.start();
    await waitFor('connected', () => r.driver.status().connected);
    await r.sim.close();
    await r.pty.close();
    await waitFor('disconnected', () => !r.driver.status().connected);
    t.same(r.connections, [true, false]);
    await t.rejects(r.driver.listTemplates(), /not connected/);
    const dir = join(r.pty.device, '..');
    r.pty = await ptyPair(dir);
    r.sim = await R30xSimulator.open(r.pty.peer);
    r.sim.enroll(2, 'u');
    await waitFor('reconnected', () => r.driver.status().connected);
    r.sim.placeFinger('u');
    await waitFor('punch after replug', () => r.punches.length === 1);
    t.same(r.connections, [true, false, true]);
  });

  t.test('a silent module goes offline and comes back', async (t) => {
    const r = await rig(t);
    await r.driver.start();
    await waitFor('connected', () => r.driver.status().connected);
    r.sim.silent = true;
    await waitFor('offline', () => !r.driver.status().connected);
    t.match(r.driver.status().lastError, /no answer/);
    r.sim.silent = false;
    await waitFor('online again', () => r.driver.status().connected);
    t.same(r.connections, [true, false, true]);
  });

  t.test('stop while identifying: nothing reaches the sink afterwards', async (t) => {
    const r = await rig(t);
    r.sim.enroll(1, 's');
    await r.driver.start();
    await waitFor('connected', () => r.driver.status().connected);
    await r.driver.stop();
    // A command written just before stop may still be in transit through socat: let it land.
    await new Promise((res) => setTimeout(res, 150));
    const polls = r.sim.received.get('genImg') ?? 0;
    r.sim.placeFinger('s');
    await new Promise((res) => setTimeout(res, 200));
    t.equal(r.punches.length, 0);
    t.equal(r.sim.received.get('genImg') ?? 0, polls, 'no more polls after stop');
  });
});

t.test('demo mode: the simulator behind an in-process sim: port (no socat needed)', async (t) => {
  const sim = R30xSimulator.onSimPort('sim:r30x-test');
  sim.enroll(11, 'demo');
  const punches: DevicePunch[] = [];
  const cfg = r30xClockSchema.parse({ id: 'fp-demo', driver: 'r30x', port: 'sim:r30x-test', pollMs: 15 });
  const driver = new R30xDriver(cfg, (p) => (punches.push(p), { id: 'G:1', seq: 1, duplicate: false }), { backoff: { initialMs: 20, maxMs: 200 } });
  t.teardown(async () => {
    await driver.stop();
    await sim.close();
  });
  await driver.start();
  await waitFor('connected', () => driver.status().connected);
  sim.placeFinger('demo');
  await waitFor('punch', () => punches.length === 1);
  t.equal(punches[0].user, '11');
});
