// FfmpegSupervisor with a small node script standing in for ffmpeg: the graceful stop
// sequence, restart backoff (and its reset after a healthy run), the stall watchdog.
import t from 'tap';
type Tap = Pick<typeof t, 'equal'>;
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { FfmpegSupervisor, type StopPhase, type SupervisorOptions } from '../../streams/ffmpeg/supervisor.js';

const dir = mkdtempSync(join(tmpdir(), 'tpgw-sup-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const script = join(dir, 'fake-ffmpeg.cjs');
writeFileSync(
  script,
  `
const mode = process.argv[2];
let frame = 0;
const progress = () => { frame++; process.stdout.write('frame=' + frame + '\\nout_time_us=' + frame * 100000 + '\\nprogress=continue\\n'); };
if (mode === 'honours-q') {
  process.stdin.on('data', (d) => { if (d.toString().includes('q')) process.exit(0); });
  setInterval(progress, 20);
} else if (mode === 'ignores-q') {
  process.stdin.on('data', () => {});
  setInterval(() => {}, 1000);
  progress();
} else if (mode === 'ignores-term') {
  process.on('SIGTERM', () => {});
  process.stdin.on('data', () => {});
  setInterval(() => {}, 1000);
  progress();
} else if (mode === 'fails') {
  process.stderr.write('rtsp://admin:secret@10.0.0.9/stream: Connection refused\\n');
  process.exit(1);
} else if (mode === 'healthy-then-exit') {
  setInterval(progress, 20);
  setTimeout(() => process.exit(0), 250);
} else if (mode === 'silent') {
  progress();
  process.stdin.on('data', (d) => { if (d.toString().includes('q')) process.exit(0); });
  setInterval(() => {}, 1000);
}
`,
);

function sup(mode: string, extra: Partial<SupervisorOptions> = {}): FfmpegSupervisor {
  const s = new FfmpegSupervisor({
    name: mode,
    binary: process.execPath,
    args: () => [script, mode],
    stopGraceMs: 500,
    stallMs: 0,
    backoff: { initialMs: 50, maxMs: 400, factor: 2, jitter: 0 },
    ...extra,
  });
  t.teardown(() => s.stop());
  return s;
}

async function stopPhases(t: Tap, mode: string): Promise<{ phases: StopPhase[]; code: number | null; signal: string | null }> {
  const s = sup(mode);
  const phases: StopPhase[] = [];
  s.on('stop-phase', (p) => phases.push(p));
  let exit: { code: number | null; signal: string | null } = { code: null, signal: null };
  s.on('exit', (code, signal) => (exit = { code, signal }));
  // The child reports progress once its stdin and signal handlers are installed.
  const ready = once(s, 'progress');
  s.start();
  await ready;
  await s.stop();
  t.equal(s.running, false);
  return { phases, ...exit };
}

t.test('graceful stop: q is honoured', async (t) => {
  const r = await stopPhases(t, 'honours-q');
  t.same(r.phases, ['q']);
  t.equal(r.code, 0);
});

t.test('a child ignoring q gets SIGTERM', async (t) => {
  const r = await stopPhases(t, 'ignores-q');
  t.same(r.phases, ['q', 'SIGTERM']);
  t.equal(r.signal, 'SIGTERM');
});

t.test('a child ignoring SIGTERM gets SIGKILL', async (t) => {
  const r = await stopPhases(t, 'ignores-term');
  t.same(r.phases, ['q', 'SIGTERM', 'SIGKILL']);
  t.equal(r.signal, 'SIGKILL');
});

t.test('unexpected exits restart with exponential, capped backoff; stderr is redacted', async (t) => {
  const s = sup('fails');
  const delays: number[] = [];
  const lines: string[] = [];
  s.on('stderr-line', (l) => lines.push(l));
  s.start();
  while (delays.length < 5) delays.push((await once(s, 'restart-scheduled'))[0] as number);
  await s.stop();
  t.same(delays, [50, 100, 200, 400, 400]);
  t.ok(s.restarts >= 4, `${s.restarts} restarts`);
  t.ok(lines.length > 0);
  for (const l of lines) t.notMatch(l, /secret|admin/, 'no credentials');
  t.match(lines[0], 'rtsp://***@10.0.0.9');
});

t.test('the backoff resets after a healthy run', async (t) => {
  const s = sup('healthy-then-exit', { healthyAfterMs: 100 });
  const delays: number[] = [];
  s.start();
  while (delays.length < 3) delays.push((await once(s, 'restart-scheduled'))[0] as number);
  await s.stop();
  t.same(delays, [50, 50, 50]);
  t.ok((s.lastProgress?.frame ?? 0) > 0, 'progress parsed from -progress output');
});

t.test('stall watchdog restarts a child that shows no progress; owner progress feeds it', async (t) => {
  const s = sup('silent', { stallMs: 300 });
  let starts = 0;
  let stalls = 0;
  s.on('start', () => starts++);
  s.on('stall', () => stalls++);
  s.start();
  await once(s, 'start');
  // The owner reports life (finished segments) for a while: no stall.
  for (let i = 0; i < 12; i++) {
    s.noteProgress();
    await new Promise((r) => setTimeout(r, 50));
  }
  t.equal(stalls, 0, 'owner progress keeps the watchdog quiet');
  await once(s, 'stall');
  await once(s, 'start');
  t.ok(starts >= 2, 'restarted after the stall');
  await s.stop();
});
