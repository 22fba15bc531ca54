// R30xModuleClient against the simulator over an in-memory wire: every command, typed errors,
// data-packet transfers in several packet sizes, the queue, and realignment after a timeout.
import t from 'tap';
import { Confirm } from '../../drivers/r30x/codes.js';
import { R30xModuleClient, R30xModuleError, R30xTimeoutError } from '../../drivers/r30x/module-client.js';
import { fingerTemplate, R30xSimulator, type R30xSimOptions, type SimWire } from '../../drivers/sim/r30x-sim.js';

/** The confirmation-code name a call failed with ('resolved' when it did not fail). */
async function failure(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    return e instanceof R30xModuleError ? e.codeName : (e as Error).name;
  }
}

function pair(simOpts: R30xSimOptions = {}, clientOpts: ConstructorParameters<typeof R30xModuleClient>[1] = {}) {
  let toSim: (d: Buffer) => void = () => undefined;
  let client: R30xModuleClient | null = null;
  const wire: SimWire = {
    send: (d) => setImmediate(() => client?.feed(Buffer.from(d))),
    onReceive: (l) => void (toSim = l),
    close: async () => undefined,
  };
  const sim = new R30xSimulator(wire, simOpts);
  client = new R30xModuleClient((frame) => setImmediate(() => toSim(frame)), { timeoutMs: 300, ...clientOpts });
  return { sim, client };
}

t.test('system parameters, template count, index table across index pages', async (t) => {
  const { sim, client } = pair({ capacity: 1000, packetSizeCode: 3, securityLevel: 5 });
  for (const p of [0, 9, 255, 256, 999]) sim.enroll(p, `f${p}`);
  t.same(await client.readSysPara(), {
    statusRegister: 0,
    systemId: 9,
    capacity: 1000,
    securityLevel: 5,
    address: 0xffffffff,
    packetSize: 256,
    baudRate: 57600,
  });
  t.equal(client.packetSize, 256);
  t.equal(await client.templateNum(), 5);
  t.same(await client.readIndexTable(0), [0, 9, 255]);
  t.same(await client.readIndexTable(1), [256]);
  t.same(await client.readIndexTable(3), [999]);
});

t.test('confirmation codes become results or typed errors', async (t) => {
  const { sim, client } = pair();
  t.equal(await client.genImg(), false, 'no finger is a result');
  const err = await client.img2Tz(1).catch((e: unknown) => e);
  t.ok(err instanceof R30xModuleError && err.code === Confirm.noValidImage && /no valid image/.test(err.message), 'typed error with code and text');
  t.equal(await failure(client.img2Tz(1)), 'noValidImage');
  sim.placeFinger('x');
  t.equal(await client.genImg(), true);
  await client.img2Tz(1);
  t.equal(await client.search(1, 0, 1000), null, 'not found is a result');
  t.equal(await failure(client.loadChar(1, 7)), 'readTemplateFailed');
  t.equal(await failure(client.store(1, 5000)), 'pageOutOfRange');
  t.equal(await failure(client.verifyPassword(1)), 'resolved', 'no password set: any password verifies');
  t.equal(await failure(client.store(1, 70000)), 'RangeError', 'page beyond 16 bits never reaches the wire');
});

t.test('upChar/downChar move templates in every packet size', async (t) => {
  for (const code of [0, 1, 2, 3] as const) {
    const { sim, client } = pair({ packetSizeCode: code });
    sim.enroll(3, 'tpl');
    await client.readSysPara();
    await client.loadChar(2, 3);
    const up = await client.upChar(2);
    t.ok(up.equals(fingerTemplate('tpl')), `upload with ${32 << code}-byte packets`);
    const other = fingerTemplate('other');
    await client.downChar(1, other);
    await client.store(1, 4);
    t.ok(sim.library.get(4)?.equals(other), `download with ${32 << code}-byte packets`);
  }
});

t.test('concurrent callers are queued: each gets its own answer', async (t) => {
  const { sim, client } = pair();
  sim.enroll(1, 'a');
  sim.enroll(2, 'b');
  const [count, idx, params, none] = await Promise.all([client.templateNum(), client.readIndexTable(0), client.readSysPara(), client.genImg()]);
  t.equal(count, 2);
  t.same(idx, [1, 2]);
  t.equal(params.capacity, 1000);
  t.equal(none, false);
  await client.deleteChar(1, 2);
  t.equal(await client.templateNum(), 0);
  sim.enroll(5, 'c');
  await client.empty();
  t.equal(sim.library.size, 0);
});

t.test('a late answer after a timeout is not taken for the next command', async (t) => {
  const { sim, client } = pair({}, { timeoutMs: 200 });
  sim.enroll(1, 'a');
  // GenImg's ack comes 100 ms after its timeout; TemplateNum's own ack is slow too, so the late
  // GenImg ack (no finger) lands while TemplateNum would be waiting — unless the client realigns.
  sim.delayNextReplies(300, 150);
  await t.rejects(client.genImg(), R30xTimeoutError);
  t.equal(await client.templateNum(), 1);
  t.equal(await client.templateNum(), 1);
});

t.test('password required, wrong and right', async (t) => {
  const { client } = pair({ password: 0x11223344 });
  t.equal(await failure(client.templateNum()), 'mustVerifyPassword');
  t.equal(await failure(client.verifyPassword(0x11223345)), 'wrongPassword');
  await client.verifyPassword(0x11223344);
  t.equal(await client.templateNum(), 0);
});

t.test('another address: the module stays silent, the client times out', async (t) => {
  const { client } = pair({ address: 0xffffffff }, { address: 0x12345678, timeoutMs: 50 });
  await t.rejects(client.genImg(), R30xTimeoutError);
});

t.test('shutdown rejects the command in flight and later ones', async (t) => {
  const { sim, client } = pair();
  sim.silent = true;
  const pending = client.genImg();
  client.shutdown('unplugged');
  await t.rejects(pending, { name: 'R30xClosedError' });
  await t.rejects(client.templateNum(), /unplugged/);
});
