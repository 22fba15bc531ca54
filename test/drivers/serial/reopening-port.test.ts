// ReopeningPort on the in-process simulator binding (sim:<name>); the real-tty unplug/replug is
// covered with socat ptys in test/drivers/line/line-driver.test.ts.
import t from 'tap';
import { ReopeningPort } from '../../../drivers/serial/reopening-port.js';
import { plugSimDevice } from '../../../drivers/serial/sim-binding.js';
import { waitUntil } from '../wait-until.js';

const backoff = { initialMs: 5, maxMs: 40 };
let n = 0;
const freshPath = () => `sim:reopen-${process.pid}-${n++}`;

t.test('keeps trying until the device appears, then reads in order', async (t) => {
  const path = freshPath();
  const port = new ReopeningPort({ path, baudRate: 9600, backoff });
  const errors: string[] = [];
  const chunks: Buffer[] = [];
  let opens = 0;
  port.on('error', (e) => errors.push(e.message));
  port.on('open', () => opens++);
  port.on('data', (c) => chunks.push(c));
  port.start();
  await waitUntil(() => errors.length >= 3, 'several failed attempts');
  t.match(errors[0], /ENOENT/);
  t.equal(port.isOpen, false);
  const device = plugSimDevice(path);
  await waitUntil(() => port.isOpen, 'open after plug');
  t.equal(opens, 1);
  for (let i = 0; i < 100; i++) device.send(`${i};`);
  await waitUntil(() => Buffer.concat(chunks).toString().split(';').length > 100, 'all bytes');
  t.equal(Buffer.concat(chunks).toString(), Array.from({ length: 100 }, (_, i) => `${i};`).join(''));
  await port.stop();
  t.equal(port.isOpen, false);
  t.equal(device.hostOpen, false, 'the device is released');
});

t.test('write() resolves once the bytes are out; rejects while closed', async (t) => {
  const path = freshPath();
  const device = plugSimDevice(path);
  const seen: Buffer[] = [];
  device.onHostWrite((d) => seen.push(d));
  const port = new ReopeningPort({ path, baudRate: 57600, backoff });
  await t.rejects(port.write(Buffer.from('x')), /not open/);
  port.start();
  await waitUntil(() => port.isOpen, 'open');
  await port.write(Buffer.from([0xef, 0x01]));
  await port.write(Buffer.from('ab'));
  t.same(Buffer.concat(seen), Buffer.from([0xef, 0x01, 0x61, 0x62]));
  await port.stop();
  await t.rejects(port.write(Buffer.from('x')), /not open/);
});

t.test('unplug closes as disconnected and the port comes back after replug', async (t) => {
  const path = freshPath();
  let device = plugSimDevice(path);
  const port = new ReopeningPort({ path, baudRate: 9600, backoff });
  const closes: string[] = [];
  const errors: string[] = [];
  let opens = 0;
  port.on('close', (r) => closes.push(r));
  port.on('open', () => opens++);
  port.on('error', (e) => errors.push(e.message));
  port.start();
  await waitUntil(() => port.isOpen, 'open');
  device.unplug();
  await waitUntil(() => closes.length === 1, 'close');
  t.match(closes[0], /unplugged/);
  await waitUntil(() => errors.some((e) => /ENOENT/.test(e)), 'reopen attempts while unplugged');
  t.equal(opens, 1);
  device = plugSimDevice(path);
  await waitUntil(() => opens === 2 && port.isOpen, 'reopened');
  const got: string[] = [];
  port.on('data', (c) => got.push(c.toString()));
  device.send('hello');
  await waitUntil(() => got.join('') === 'hello', 'data after replug');
  await port.stop();
  t.pass();
});

t.test('stop() during backoff: no further attempts, nothing left scheduled', async (t) => {
  const path = freshPath();
  const port = new ReopeningPort({ path, baudRate: 9600, backoff: { initialMs: 60_000, maxMs: 60_000 } });
  let errors = 0;
  port.on('error', () => errors++);
  port.start();
  await waitUntil(() => errors === 1, 'first failure');
  const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  await port.stop();
  const after = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  t.equal(after, before - 1, 'the 60 s retry timer is gone');
  plugSimDevice(path);
  await new Promise((r) => setTimeout(r, 50));
  t.equal(port.isOpen, false, 'not reopened after stop');
});

t.test('no error listener: failures do not throw', async (t) => {
  const port = new ReopeningPort({ path: freshPath(), baudRate: 9600, backoff });
  port.start();
  await new Promise((r) => setTimeout(r, 50));
  await port.stop();
  t.pass('still alive');
});

t.test('stop() while an open is in flight closes what it opened', async (t) => {
  const path = freshPath();
  const device = plugSimDevice(path);
  const port = new ReopeningPort({ path, baudRate: 9600, backoff });
  port.start();
  await port.stop();
  t.equal(port.isOpen, false);
  t.equal(device.hostOpen, false, 'closed before stop() resolved');
});
