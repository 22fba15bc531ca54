// Bench: the gateway's own cost of recording 4 simulated 1080p cameras, measured apart from
// ffmpeg's. One RTSP server (gst-rtsp-server, shared media: one x264 encoder, 1920x1080 25 fps,
// 4 Mbit/s, 2 s GOP) is recorded by 4 cameras of a real Cameras service (4 ffmpeg `-c copy`
// recorders, 10 s segments: each finished segment is probed, hashed, moved and indexed).
//
// The Cameras service runs in a child node process of its own (as in the gateway), so the
// figures are not polluted by other benches run before in the same runner process.
// gateway CPU   = process.cpuUsage() of that process over the window (ffmpeg is its child and
//                 not included), as % of one core; RSS sampled every second (max).
// ffmpeg CPU    = utime+stime of the 4 recorder pids from /proc/<pid>/stat over the window.
// probe CPU     = growth of this process's cutime+cstime (reaped children: the ffprobe runs).
// encoder CPU   = the RTSP server (the simulated cameras' cost, not the gateway's).
// Targets (issue 4): gateway <= 2 % of a core, <= 90 MB RSS.
import Database from 'better-sqlite3';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cameras } from '../../streams/camera-service.js';
import { startRtspServer, rtspServerMissing } from '../helpers/rtsp-server.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function clkTck(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
}

/** [utime+stime, cutime+cstime] in ticks for a pid, or null when it is gone. */
function procTimes(pid: number | 'self'): [number, number] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is state (field 3): utime is field 14 → index 11.
    return [Number(fields[11]) + Number(fields[12]), Number(fields[13]) + Number(fields[14])];
  } catch {
    return null;
  }
}

async function measureInThisProcess(url: string, serverPid: number | null, seconds: number, nCams: number): Promise<Record<string, number | string>> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tpgw-bench-streams-'));
  const db = new Database(join(dataDir, 'gateway.db'));
  db.pragma('journal_mode = WAL');
  const cams = new Cameras({
    cameras: Array.from({ length: nCams }, (_, i) => ({ id: `cam${i + 1}`, rtspUrl: url, record: 'always' as const })),
    ffmpeg: { stopGraceSeconds: 5, stallSeconds: 20 },
    recordings: { segmentSeconds: 10, format: 'mp4', keepDays: 30, minFreeGB: 0, reserveForDatabaseMB: 64, gapSeconds: 5 },
    snapshots: { intervalSeconds: 60, maxBytes: 512 * 1024 },
    dataDir,
    db,
  });
  let segments = 0;
  let bytes = 0;
  cams.on('segment', (s) => {
    segments++;
    bytes += s.bytes;
  });
  const tck = clkTck();
  try {
    await cams.start();
    // Warm-up: all recorders connected and writing.
    const deadline = Date.now() + 30_000;
    while (cams.status().some((s) => !s.online) && Date.now() < deadline) await sleep(200);
    await sleep(3000);
    const recorders = (cams as unknown as { recorders: Map<string, { supervisor: { pid: number | null } }> }).recorders;
    const ffPids = [...recorders.values()].map((r) => r.supervisor.pid).filter((p): p is number => p !== null);
    const ff0 = ffPids.map((p) => procTimes(p)?.[0] ?? 0);
    const srv0 = serverPid ? (procTimes(serverPid)?.[0] ?? 0) : 0;
    const self0 = procTimes('self');
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const seg0 = segments;
    let rssMax = process.memoryUsage().rss;
    const rssTimer = setInterval(() => (rssMax = Math.max(rssMax, process.memoryUsage().rss)), 1000);
    await sleep(seconds * 1000);
    clearInterval(rssTimer);
    const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    const ff1 = ffPids.map((p) => procTimes(p)?.[0] ?? 0);
    const srv1 = serverPid ? (procTimes(serverPid)?.[0] ?? 0) : 0;
    const self1 = procTimes('self');
    const ffTicks = ff1.reduce((a, v, i) => a + (v - ff0[i]), 0);
    const pct = (x: number) => Math.round(x * 1000) / 10;
    const gatewayCpu = (cpu.user + cpu.system) / 1e6 / wallS;
    const restarts = cams.status().reduce((a, s) => a + s.restarts, 0);
    return {
      cameras: nCams,
      stream: '1920x1080 25fps 4 Mbit/s H.264 (shared gst-rtsp-server media)',
      windowSeconds: Math.round(wallS * 10) / 10,
      gatewayCpuPctOfCore: pct(gatewayCpu),
      gatewayRssMB: Math.round(rssMax / 1e5) / 10,
      ffmpegRecordersCpuPctOfCore: pct(ffTicks / tck / wallS),
      ffmpegPerCameraCpuPct: pct(ffTicks / tck / wallS / Math.max(1, ffPids.length)),
      ffprobeChildrenCpuPctOfCore: self0 && self1 ? pct((self1[1] - self0[1]) / tck / wallS) : 'n/a',
      rtspEncoderCpuPctOfCore: pct((srv1 - srv0) / tck / wallS),
      segmentsInWindow: segments - seg0,
      recordedMB: Math.round(bytes / 1e5) / 10,
      restarts,
      gatewayCpuTargetPct: 2,
      gatewayRssTargetMB: 90,
      gatewayCpuWithinTarget: gatewayCpu * 100 <= 2 ? 'yes' : 'no',
      gatewayRssWithinTarget: rssMax / 1e6 <= 90 ? 'yes' : 'no',
    };
  } finally {
    await cams.stop();
    db.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const CHILD_FLAG = '--streams-bench-child';

export async function benchStreams(opts: { seconds?: number; cameras?: number } = {}): Promise<Record<string, number | string>> {
  const missing = rtspServerMissing();
  if (missing) return { skipped: missing };
  const seconds = opts.seconds ?? 30;
  const nCams = opts.cameras ?? 4;
  const server = await startRtspServer({ width: 1920, height: 1080, fps: 25, gopSeconds: 2, bitrateKbps: 4000 });
  try {
    // Same runtime flags as ours (tsx when run from source, none when compiled).
    const child = spawn(
      process.execPath,
      [...process.execArgv, fileURLToPath(import.meta.url), CHILD_FLAG, server.url, String(server.pid() ?? ''), String(seconds), String(nCams)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (code !== 0) throw new Error(`streams bench child exited with ${code}`);
    return JSON.parse(out.trim().split('\n').pop()!) as Record<string, number | string>;
  } finally {
    await server.stop();
  }
}

if (process.argv[2] === CHILD_FLAG) {
  const [url, pid, seconds, cams] = process.argv.slice(3);
  measureInThisProcess(url, pid ? Number(pid) : null, Number(seconds), Number(cams)).then(
    (r) => process.stdout.write(JSON.stringify(r) + '\n'),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
} else if (import.meta.url === `file://${process.argv[1]}`) {
  // Run directly: `npx tsx test/bench/streams-bench.ts`
  benchStreams().then(
    (r) => console.log(JSON.stringify(r, null, 2)),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
