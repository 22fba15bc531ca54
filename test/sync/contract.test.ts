import t from 'tap';
import { readFileSync } from 'node:fs';
import { Parser } from '@asyncapi/parser';
import { asyncApiPath, messageNames, payloadSchema } from '../../sync/contract/payload-schemas.js';
import { makeTopics } from '../../sync/mqtt/topics.js';
import { batchMessage } from '../../sync/uplink/uplink.js';
import { punchWireRecord } from '../../sync/store/punch-store.js';
import { contractValidator } from './contract-validator.js';
import { punch, tempDir } from './fixtures.js';
import { join } from 'node:path';
import { openDatabase, closeDatabase } from '../../sync/store/database.js';
import { Outbox } from '../../sync/outbox/outbox.js';
import { PunchStore } from '../../sync/store/punch-store.js';
import { PunchTimeCorrector } from '../../sync/store/punch-time-correction.js';

t.test('asyncapi.yaml is a valid AsyncAPI 3 document (no error diagnostics)', async (t) => {
  const { document, diagnostics } = await new Parser().parse(readFileSync(asyncApiPath(), 'utf8'));
  const errors = diagnostics.filter((d) => d.severity === 0);
  t.same(errors.map((d) => `${d.code}: ${d.message} at ${d.path.join('.')}`), []);
  t.ok(document);
  t.equal(document!.version(), '3.0.0');
  // Every topic of DESIGN.md's contract table is documented, with the address the code builds.
  const addresses = document!.channels().all().map((c) => c.address());
  const topics = makeTopics('{prefix}', '{gatewayId}');
  const expected = [
    topics.status, topics.info, topics.stream('attendance'), topics.ack('attendance'), topics.stream('recordings'),
    topics.ack('recordings'), topics.stream('corrections'), topics.ack('corrections'), `${topics.base}/snapshot/{camera}`, topics.event, topics.request('{name}'), topics.response('{name}'),
    '$file/{fileId}/init', '$file/{fileId}/{offset}', '$file/{fileId}/fin/{size}',
  ];
  t.same([...addresses].sort(), [...expected].sort());
});

t.test('payload schemas load self-contained and reject what the contract forbids', async (t) => {
  t.ok(messageNames().includes('attendanceBatch'));
  t.notMatch(JSON.stringify(payloadSchema('attendanceBatch')), /\$ref/, 'refs inlined');
  t.throws(() => payloadSchema('nope'), /no message/);
  const check = contractValidator();
  const rec = punchWireRecord('G:1', 1, punch(0));
  t.same(check('attendanceBatch', batchMessage('attendance-1-1-ab', [JSON.stringify(rec)])), []);
  t.not(check('attendanceBatch', batchMessage('attendance-1-1-ab', [])).length, 0, 'empty batch rejected');
  t.not(check('attendanceBatch', batchMessage('b', [JSON.stringify({ ...rec, time: '2026-12-04 08:00' })])).length, 0, 'time without offset rejected');
  t.not(check('attendanceBatch', batchMessage('b', [JSON.stringify({ ...rec, id: '1' })])).length, 0, 'bad id rejected');
  t.not(check('ack', { v: 2, batch: 'x' }).length, 0);
  t.not(check('status', { v: 1, state: 'online' }).length, 0, 'online needs version and startedAt');
  t.same(check('response', { v: 1, status: 'error', error: 'x' }), []);
  t.not(check('response', { v: 1, status: 'ok' }).length, 0, 'ok needs data');
  t.same(check('fileInit', { name: 'seg.mp4', size: 10 }), []);
});

t.test('recordings batch as gateway/ builds it validates', async (t) => {
  const check = contractValidator();
  const rec = {
    id: 'G:rec:17', camera: 'cam1', path: '/data/rec/cam1/x.mp4', start: '2026-12-04T08:00:00.000+00:00', end: '2026-12-04T08:01:00.000+00:00',
    durationSeconds: 60, bytes: 1234, sha256: 'a'.repeat(64), status: 'complete', session: null, recovered: false,
  };
  t.same(check('recordingsBatch', batchMessage('recordings-1-1-ab', [JSON.stringify(rec)])), []);
  t.not(check('recordingsBatch', batchMessage('b', [JSON.stringify({ ...rec, sha256: 'xyz' })])).length, 0);
});

t.test('info and event payloads shaped as gateway/ sends them validate', async (t) => {
  const check = contractValidator();
  t.same(check('info', { v: 1, gateway: 'G', name: null, version: '0.1.0', startedAt: '2026-12-04T08:00:00.000Z', configHash: null, clockSynced: false, bootId: 'b', clocks: [{ id: 'c1' }], cameras: [], ffmpeg: null, disk: null }), []);
  t.same(check('info', { v: 1, disk: { freeBytes: 1, totalBytes: 2 } }), []);
  t.same(check('event', { v: 1, time: '2026-12-04T08:00:00.000Z', type: 'clock-offline', clock: 'c1', message: 'port gone' }), []);
  t.not(check('event', { v: 1, type: 'x' }).length, 0, 'event needs a time');
});

t.test('time corrections as the store sends them validate: corrected attendance records and the corrections batch', async (t) => {
  const check = contractValidator();
  const db = openDatabase(join(tempDir(t), 'tpgw.db'));
  t.teardown(() => closeDatabase(db));
  const outbox = new Outbox(db);
  const store = new PunchStore(db, 'G', outbox);
  const wrong = (s: number) => new Date(Date.UTC(2020, 0, 1) + s * 1000).toISOString().replace('Z', '+00:00');
  for (const s of [10, 20]) store.append(punch(s, { time: wrong(s), receivedAt: wrong(s), clockSynced: false, monoNs: BigInt(s) * 1_000_000_000n, bootId: 'b' }));
  outbox.takeBatch('attendance', 1); // the first punch left before the clock synchronised
  const r = new PunchTimeCorrector(db, 'G', outbox).correct(
    { bootId: 'b', wallMs: Date.UTC(2026, 11, 4, 9), monoNs: 100_000_000_000n },
    { format: (ms) => new Date(ms).toISOString().replace('Z', '+00:00') },
  );
  t.same([r.correctedPending, r.correctionRecords], [1, 1]);
  const attendance = outbox.takeBatch('attendance', 10)!;
  t.match(attendance.message.toString(), /"timeCorrected":/);
  t.same(check('attendanceBatch', attendance.message), []);
  const corrections = outbox.takeBatch('corrections', 10)!;
  t.same(check('correctionsBatch', corrections.message), []);
  t.not(check('correctionsBatch', batchMessage('c', [JSON.stringify({ id: 'G:corr:1', seq: 1 })])).length, 0, 'a correction must say what it corrects');
});
