// The periodic snapshot scheduler: emits per camera, counts failures without throwing, survives
// a throwing listener, never overlaps grabs of one camera, and stop() ends it all. The
// Snapshotter here is a scripted stand-in for the interface (the real one is tested in
// snapshot.test.ts); timings are not asserted, only what happened.
import t from 'tap';
import { once } from 'node:events';
import { SnapshotScheduler } from '../../streams/snapshots/snapshot-scheduler.js';
import type { Snapshotter } from '../../streams/snapshots/snapshotter.js';
import { SIM_JPEG } from '../../streams/sim/sim-jpeg.js';
import { startOnvifSim } from '../../streams/sim/onvif-sim.js';
import { OnvifOrFfmpegSnapshotter } from '../../streams/snapshots/snapshotter.js';
import { resolveStream } from '../../streams/onvif/onvif-camera.js';
import type { CamerasOptions, SnapshotSchedulerLike, SnapshotterLike } from '../../streams/camera-service.js';

function waitFor(cond: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = () => (cond() ? resolve() : setTimeout(check, 10));
    check();
  });
}

t.test('emits snapshots, counts failures, survives a throwing listener, stops', async (t) => {
  let concurrent = 0;
  let maxConcurrent = 0;
  const calls: Record<string, number> = { good: 0, bad: 0, flaky: 0 };
  const snapshotter: Snapshotter = {
    async grab(camera) {
      calls[camera]++;
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      await new Promise((r) => setTimeout(r, 5));
      concurrent--;
      if (camera === 'bad') throw new Error('camera offline');
      if (camera === 'flaky' && calls.flaky % 2 === 1) throw new Error('timeout');
      return SIM_JPEG;
    },
  };
  const sched = new SnapshotScheduler({ snapshotter, cameras: ['good', 'bad', 'flaky'], intervalSeconds: 0.02 });
  const got: Record<string, number> = { good: 0, bad: 0, flaky: 0 };
  const failed: Record<string, number> = { good: 0, bad: 0, flaky: 0 };
  sched.on('snapshot', (camera, jpeg) => {
    t.equal(jpeg, SIM_JPEG);
    got[camera]++;
  });
  sched.on('snapshot', () => {
    throw new Error('a buggy listener');
  });
  sched.on('failure', (camera, err) => {
    failed[camera]++;
    t.type(err, Error);
  });
  sched.start();
  sched.start(); // idempotent
  await waitFor(() => got.good >= 3 && failed.bad >= 3 && got.flaky >= 2 && failed.flaky >= 2);
  await sched.stop();

  const stats = sched.stats();
  t.equal(stats.good.errors, 0);
  t.ok(stats.good.ok >= 3);
  t.equal(stats.good.lastBytes, SIM_JPEG.length);
  t.ok(stats.bad.errors >= 3);
  t.equal(stats.bad.ok, 0);
  t.equal(stats.bad.lastError, 'camera offline');
  t.equal(stats.bad.consecutiveErrors, stats.bad.errors);
  t.ok(stats.flaky.ok >= 2 && stats.flaky.errors >= 2);
  t.ok(stats.flaky.consecutiveErrors <= 1, 'a success resets the run of failures');

  // Nothing after stop(): no timers left, no events.
  const before = { ...calls };
  const emitted = got.good + failed.bad;
  await new Promise((r) => setTimeout(r, 150));
  t.same(calls, before, 'no grabs after stop');
  t.equal(got.good + failed.bad, emitted, 'no events after stop');
  t.ok(maxConcurrent <= 3, 'at most one grab per camera at a time');
});

t.test('stop() waits for a grab in flight and drops its result', async (t) => {
  let release!: () => void;
  let started!: () => void;
  const grabStarted = new Promise<void>((r) => (started = r));
  let finished = false;
  const snapshotter: Snapshotter = {
    grab: () =>
      new Promise<Buffer>((resolve) => {
        started();
        release = () => {
          finished = true;
          resolve(SIM_JPEG);
        };
      }),
  };
  const sched = new SnapshotScheduler({ snapshotter, cameras: ['slow'], intervalSeconds: 60, staggerMs: 0 });
  let emitted = 0;
  sched.on('snapshot', () => emitted++);
  sched.start();
  await grabStarted;
  const stopping = sched.stop();
  let stopped = false;
  void stopping.then(() => (stopped = true));
  await new Promise((r) => setTimeout(r, 20));
  t.notOk(stopped, 'stop() still waiting for the grab');
  release();
  await stopping;
  t.ok(finished);
  t.equal(emitted, 0, 'result of a grab finishing after stop() is dropped');
});

t.test('with the real snapshotter and the ONVIF simulator', async (t) => {
  const sim = await startOnvifSim({ password: 'pw' });
  t.teardown(() => sim.stop());
  const snapshotter = new OnvifOrFfmpegSnapshotter({
    cameras: [{ id: 'c1', record: 'always', onvif: { host: sim.host, port: sim.port, username: 'admin', password: 'pw' } }],
    maxBytes: 100_000,
  });
  const sched = new SnapshotScheduler({ snapshotter, cameras: ['c1'], intervalSeconds: 60, staggerMs: 0 });
  // The seams the Cameras service takes (checked by tsc).
  const seams: { scheduler: SnapshotSchedulerLike; snapshotter: SnapshotterLike; resolve: CamerasOptions['resolveStream'] } = {
    scheduler: sched,
    snapshotter,
    resolve: resolveStream,
  };
  t.ok(seams.scheduler && seams.snapshotter && seams.resolve);
  sched.start();
  const [camera, jpeg] = await once(sched, 'snapshot');
  await sched.stop();
  t.equal(camera, 'c1');
  t.same(jpeg, SIM_JPEG);
});
