// Cameras end to end: a simulated RTSP camera (real H.264 from ffmpeg), `tpgw run` as a child
// process recording it, Mosquitto, and a center that acks recording metadata. Segments must reach
// the center on tpgw/G/recordings and settle; snapshots are published retained; the `snapshot`
// request answers with a fresh one.
import t from 'tap';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { startBroker } from '../helpers/broker.js';
import { freePort } from '../helpers/free-port.js';
import { needs, which } from '../helpers/which.js';
import { TestCenter } from '../helpers/center.js';
import { spawnGateway, stopGateway, waitHealthy, writeConfig } from '../helpers/gateway-process.js';
import { RtspCameraSim } from '../../streams/sim/rtsp-camera.js';

const TOKEN = 'cam-token';
const skip = needs('ffmpeg') || needs('ffprobe', 'ffmpeg');

t.test('segments reach the center and settle; snapshots retained; snapshot request', { skip, timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tpgw-e2e-cam-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const broker = await startBroker();
  t.teardown(() => broker.stop());
  const cam = new RtspCameraSim({ ffmpegPath: which('ffmpeg')!, width: 320, height: 240, fps: 10 });
  const { url } = await cam.start();
  t.teardown(() => cam.stop());

  const httpPort = await freePort();
  const dataDir = join(dir, 'data');
  const configFile = writeConfig(dir, {
    gateway: { id: 'e2e-cam', dataDir, timeSync: 'synced' },
    center: { mqtt: { url: broker.url, reconnectMinMs: 200, reconnectMaxMs: 2000 }, ackTimeoutSeconds: 5 },
    http: { listen: `127.0.0.1:${httpPort}`, token: TOKEN },
    cameras: [{ id: 'room1', name: 'Room 1', rtspUrl: url, record: 'always' }],
    recordings: { segmentSeconds: 2, minFreeGB: 0, reserveForDatabaseMB: 1 },
    snapshots: { intervalSeconds: 2 },
    log: { level: 'warn' },
  });

  const center = new TestCenter(broker.url, 'e2e-cam', 'recordings');
  await center.start();
  t.teardown(() => center.stop());
  const watcher = await mqtt.connectAsync(broker.url, { clientId: `snap-${process.pid}` });
  t.teardown(() => watcher.endAsync());
  const snapshots: Buffer[] = [];
  const responses: Record<string, unknown>[] = [];
  watcher.on('message', (topic, payload) => {
    if (topic === 'tpgw/e2e-cam/snapshot/room1') snapshots.push(payload);
    else responses.push(JSON.parse(payload.toString()));
  });
  await watcher.subscribeAsync(['tpgw/e2e-cam/snapshot/room1', 'tpgw/e2e-cam/response/snapshot'], { qos: 1 });

  const gw = spawnGateway(['run', '--config', configFile]);
  t.teardown(() => stopGateway(gw, 'SIGKILL'));
  await waitHealthy(httpPort, gw);

  await center.waitFor(() => center.byId.size >= 3, 60_000, 'three segments at the center');
  const seg = [...center.byId.values()][0];
  t.match(seg, { id: /^e2e-cam:rec:\d+$/, camera: 'room1', status: 'ok', sha256: /^[0-9a-f]{64}$/ }, 'segment metadata');
  t.ok((seg.bytes as number) > 0 && (seg.durationSeconds as number) > 0, 'bytes and duration');
  t.match(seg.path as string, /^room1\/\d{4}-\d{2}-\d{2}\/\d{2}-\d{2}-\d{2}(_\d+)?\.mp4$/, 'layout camera/date/time (UTC)');
  t.ok(existsSync(join(dataDir, 'recordings', seg.path as string)), 'the file is on disk');

  await center.waitFor(() => snapshots.length >= 1, 30_000, 'a periodic snapshot');
  const jpeg = snapshots[0];
  t.same([jpeg[0], jpeg[1]], [0xff, 0xd8], 'snapshot is a JPEG');

  watcher.publish('tpgw/e2e-cam/request/snapshot', JSON.stringify({ v: 1, transaction: 'tx-1', camera: 'room1' }), { qos: 1 });
  watcher.publish('tpgw/e2e-cam/request/snapshot', JSON.stringify({ v: 1, transaction: 'tx-2', camera: 'nope' }), { qos: 1 });
  await center.waitFor(() => responses.length >= 2, 30_000, 'snapshot responses');
  const ok = responses.find((r) => r.transaction === 'tx-1');
  const bad = responses.find((r) => r.transaction === 'tx-2');
  t.match(ok, { v: 1, status: 'ok', data: { camera: 'room1' } }, 'snapshot request answered');
  t.match(bad, { v: 1, status: 'error', error: /room1/ }, 'unknown camera is an error naming the valid ones');

  const status = await (await fetch(`http://127.0.0.1:${httpPort}/api/status`, { headers: { authorization: `Bearer ${TOKEN}` } })).json();
  t.match(status.cameras[0], { id: 'room1', online: true, recording: true });
  t.ok(status.sync.recordings.settled >= 3, 'recording metadata is settled by the center acks');

  await stopGateway(gw);
  t.equal((await gw.exited).code, 0, 'clean stop with ffmpeg running');
});
