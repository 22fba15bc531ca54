// The gateway itself SIGKILLed mid-segment: its ffmpeg survives as an orphan (it does not die
// with its parent); the next start stops the orphan, indexes the partial segment (recovered,
// playable) and records on.
import t from 'tap';
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { startRtspServer, rtspServerMissing } from '../helpers/rtsp-server.js';
import { needs } from '../helpers/which.js';
import { Cameras } from '../../streams/camera-service.js';
import { findOrphanRecorders } from '../../streams/recorder/orphans.js';
import { probeFile } from '../../streams/ffmpeg/probe.js';
import type { SegmentInfo } from '../../streams/types.js';
import { sleep, until } from './fixtures/recorder-setup.js';
import { oneCameraOptions } from './fixtures/one-camera.js';

const skip = needs('ffmpeg') || needs('ffprobe', 'ffmpeg') || rtspServerMissing() || (process.platform !== 'linux' && 'needs Linux /proc');
const here = dirname(fileURLToPath(import.meta.url));

t.test('gateway SIGKILL mid-segment: partial segment recovered on restart', { skip }, async (t) => {
  const server = await startRtspServer({ fps: 10 });
  t.teardown(() => server.stop());
  const dataDir = mkdtempSync(join(tmpdir(), 'tpgw-gwkill-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));

  const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'fixtures', 'cameras-child.ts'), dataDir, server.url], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => child.kill('SIGKILL'));
  const before: SegmentInfo[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => {
    const m = JSON.parse(l) as { segment?: SegmentInfo };
    if (m.segment) before.push(m.segment);
  });
  await until('a first segment in the doomed gateway', () => before.length >= 1);
  await sleep(2500); // well into the next 4 s segment
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));

  const orphans = await findOrphanRecorders(join(dataDir, 'recordings'));
  t.equal(orphans.length, 1, 'ffmpeg outlived the gateway');
  t.teardown(() => orphans.forEach((o) => { try { process.kill(o.pid, 'SIGKILL'); } catch { /* gone */ } }));

  const db = new Database(join(dataDir, 'gw.db'));
  t.teardown(() => db.close());
  const cams = new Cameras(oneCameraOptions(server.url, dataDir, db));
  const after: SegmentInfo[] = [];
  cams.on('segment', (s) => after.push(s));
  await cams.start();
  t.teardown(() => cams.stop());
  t.same(await findOrphanRecorders(join(dataDir, 'recordings')).then((o) => o.filter((x) => orphans.some((y) => y.pid === x.pid))), [], 'orphan stopped');
  const recovered = cams.index.list({ camera: 'cam1' }).filter((s) => s.recovered);
  t.ok(recovered.length >= 1, `${recovered.length} segment(s) recovered`);
  for (const s of recovered) {
    t.equal(s.status, 'ok', `${s.path} playable`);
    t.ok((await probeFile('ffprobe', join(dataDir, 'recordings', s.path))).ok);
  }
  const all = cams.index.list({ camera: 'cam1' });
  t.ok(all.length >= before.length + 1, 'everything the dead gateway indexed is still there, plus the recovered one');
  await until('recording again', () => after.some((s) => !s.recovered));
  await cams.stop();
});
