// Supervises one long-running ffmpeg (a recorder, a live push): spawns it without a shell,
// follows its progress, stops it gracefully (`q` on stdin → SIGTERM → SIGKILL, each after the
// grace period), restarts it with capped exponential backoff when it exits on its own, and
// restarts it when neither ffmpeg's progress nor the owner (noteProgress: "a segment was
// finished") shows life for `stallMs`. A stalled RTSP input can leave ffmpeg alive but idle
// forever, so exit codes alone are not enough.
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';
import { ProgressParser, type FfmpegProgress } from './progress.js';
import { redactCommand, redactCredentials } from './redact.js';
import { silentLogger, type StreamsLogger } from '../logger.js';

export interface SupervisorOptions {
  /** Used in logs only (e.g. "recorder cam1"). */
  name: string;
  binary: string;
  /** Recomputed before every (re)start, so an owner can refresh URLs or paths. */
  args: () => string[] | Promise<string[]>;
  env?: NodeJS.ProcessEnv;
  /** Extra pipes after stdin/stdout/stderr: 1 gives the child fd 3 (read it from 'start'). */
  extraPipes?: number;
  stopGraceMs: number;
  /** 0 disables the stall watchdog. */
  stallMs: number;
  backoff?: BackoffPolicy;
  /** A run this long that showed progress resets the backoff. Default 30 s. */
  healthyAfterMs?: number;
  random?: () => number;
  logger?: StreamsLogger;
}

export type StopPhase = 'q' | 'SIGTERM' | 'SIGKILL';

export interface SupervisorEvents {
  start: [child: ChildProcess];
  exit: [code: number | null, signal: NodeJS.Signals | null];
  progress: [FfmpegProgress];
  stall: [silentMs: number];
  'stderr-line': [line: string];
  /** A step of the graceful stop sequence was taken. */
  'stop-phase': [StopPhase];
  /** A restart is scheduled after `delayMs`. */
  'restart-scheduled': [delayMs: number, attempt: number];
}

type State = 'idle' | 'running' | 'backoff' | 'stopping';

export class FfmpegSupervisor extends EventEmitter<SupervisorEvents> {
  private state: State = 'idle';
  private want = false;
  private child: ChildProcess | null = null;
  private childExited: Promise<void> = Promise.resolve();
  private restartTimer: NodeJS.Timeout | null = null;
  private watchdog: NodeJS.Timeout | null = null;
  private attempt = 0;
  private runStartedAt = 0;
  private progressSeenThisRun = false;
  private lastProgressAt = 0;
  private lastProgressValue: FfmpegProgress | null = null;
  private stallKill = false;
  private readonly log: StreamsLogger;
  private readonly policy: BackoffPolicy;
  /** Number of times the child was started again after the first start. */
  restarts = 0;
  lastExit: { code: number | null; signal: NodeJS.Signals | null; at: number } | null = null;

  constructor(private readonly opts: SupervisorOptions) {
    super();
    this.log = opts.logger ?? silentLogger;
    this.policy = opts.backoff ?? DEFAULT_BACKOFF;
  }

  /** True between start() and stop(): the child is running or will be restarted. */
  get wanted(): boolean {
    return this.want;
  }

  get running(): boolean {
    return this.child !== null;
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /** The last progress ffmpeg reported in the current or last run. */
  get lastProgress(): FfmpegProgress | null {
    return this.lastProgressValue;
  }

  /** Starts the child (no-op when already wanted). */
  start(): void {
    if (this.want) return;
    this.want = true;
    this.attempt = 0;
    void this.launch();
  }

  /** The owner saw life (e.g. a finished segment): feeds the stall watchdog. */
  noteProgress(): void {
    this.lastProgressAt = Date.now();
    this.progressSeenThisRun = true;
  }

  /** Graceful stop; resolves once the child has exited. No restart follows. */
  async stop(): Promise<void> {
    this.want = false;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    if (this.child) await this.terminate();
    this.stopWatchdog();
    this.state = 'idle';
  }

  /** Graceful stop followed by an immediate start (e.g. a new stream URL). */
  async restart(): Promise<void> {
    await this.stop();
    this.start();
  }

  private async launch(): Promise<void> {
    this.restartTimer = null;
    if (!this.want || this.child) return;
    let args: string[];
    try {
      args = await this.opts.args();
    } catch (err) {
      this.log.error({ err: redactCredentials(String(err)), name: this.opts.name }, 'ffmpeg arguments failed');
      this.scheduleRestart();
      return;
    }
    if (!this.want || this.child) return;
    const stdio: Array<'pipe'> = ['pipe', 'pipe', 'pipe'];
    for (let i = 0; i < (this.opts.extraPipes ?? 0); i++) stdio.push('pipe');
    this.log.info({ name: this.opts.name, cmd: redactCommand(this.opts.binary, args) }, 'starting ffmpeg');
    const child = spawn(this.opts.binary, args, { stdio, env: this.opts.env ?? process.env });
    this.child = child;
    this.state = 'running';
    this.runStartedAt = Date.now();
    this.lastProgressAt = this.runStartedAt;
    this.progressSeenThisRun = false;
    this.lastProgressValue = null;
    this.stallKill = false;
    this.childExited = new Promise((resolve) => {
      let done = false;
      const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (done) return;
        done = true;
        this.onExit(child, code, signal);
        resolve();
      };
      child.once('exit', finish);
      child.once('error', (err) => {
        this.log.error({ name: this.opts.name, err: redactCredentials(err.message) }, 'ffmpeg spawn failed');
        // 'exit' may not follow a spawn error (ENOENT); settle here then.
        if (child.pid === undefined) finish(null, null);
      });
    });
    child.stdin!.on('error', () => {
      /* EPIPE when the child is gone: the exit handler deals with it */
    });
    const parser = new ProgressParser();
    this.follow(child.stdout!, parser, false);
    this.follow(child.stderr!, parser, true);
    this.startWatchdog();
    if (child.pid !== undefined) this.emit('start', child);
  }

  private follow(stream: Readable, parser: ProgressParser, isStderr: boolean): void {
    const rl = createInterface({ input: stream, crlfDelay: Infinity });
    rl.on('line', (raw) => {
      // ffmpeg rewrites its stats line with \r; split those too.
      for (const line of raw.split('\r')) {
        const p = parser.feed(line);
        if (p) this.onProgress(p);
        else if (isStderr && line.trim()) this.emit('stderr-line', redactCredentials(line));
      }
    });
  }

  private onProgress(p: FfmpegProgress): void {
    // Only growth counts as life: a stalled input keeps ffmpeg printing the same numbers.
    const prev = this.lastProgressValue;
    const advanced =
      !prev ||
      p.frame > prev.frame ||
      p.outTimeSeconds > prev.outTimeSeconds ||
      (p.totalSize !== null && p.totalSize !== (prev.totalSize ?? -1));
    this.lastProgressValue = p;
    if (advanced && (p.frame > 0 || p.outTimeSeconds > 0)) {
      this.lastProgressAt = Date.now();
      this.progressSeenThisRun = true;
    }
    this.emit('progress', p);
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child) return;
    this.child = null;
    this.lastExit = { code, signal, at: Date.now() };
    const ranMs = Date.now() - this.runStartedAt;
    this.log.info({ name: this.opts.name, code, signal, ranMs }, 'ffmpeg exited');
    this.emit('exit', code, signal);
    if (!this.want) {
      this.stopWatchdog();
      return;
    }
    if (this.progressSeenThisRun && ranMs >= (this.opts.healthyAfterMs ?? 30_000) && !this.stallKill) {
      this.attempt = 0;
    }
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    if (!this.want) return;
    const delay = backoffDelay(this.policy, this.attempt, this.opts.random);
    const attempt = this.attempt;
    this.attempt++;
    this.state = 'backoff';
    this.emit('restart-scheduled', delay, attempt);
    this.restartTimer = setTimeout(() => {
      this.restarts++;
      void this.launch();
    }, delay);
  }

  private startWatchdog(): void {
    if (this.watchdog || this.opts.stallMs <= 0) return;
    const every = Math.max(50, Math.min(1000, this.opts.stallMs / 4));
    this.watchdog = setInterval(() => this.checkStall(), every);
    this.watchdog.unref();
  }

  private stopWatchdog(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
  }

  private checkStall(): void {
    if (this.state !== 'running' || !this.child || this.stallKill) return;
    const silent = Date.now() - this.lastProgressAt;
    if (silent <= this.opts.stallMs) return;
    this.stallKill = true;
    this.log.warn({ name: this.opts.name, silentMs: silent }, 'ffmpeg stalled, restarting');
    this.emit('stall', silent);
    // The exit handler schedules the restart since `wanted` stays true.
    void this.terminate();
  }

  /** q → SIGTERM → SIGKILL, each after the grace period; resolves when the child is gone. */
  private async terminate(): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = this.childExited;
    this.state = 'stopping';
    const grace = this.opts.stopGraceMs;
    const gone = (): boolean => this.child !== child;
    const waitExit = (ms: number): Promise<boolean> =>
      new Promise((resolve) => {
        const timer = setTimeout(() => resolve(false), ms);
        void exited.then(() => {
          clearTimeout(timer);
          resolve(true);
        });
      });
    this.emit('stop-phase', 'q');
    if (child.stdin && !child.stdin.destroyed) child.stdin.write('q');
    if (await waitExit(grace)) return;
    if (gone()) return;
    this.emit('stop-phase', 'SIGTERM');
    child.kill('SIGTERM');
    if (await waitExit(grace)) return;
    if (gone()) return;
    this.emit('stop-phase', 'SIGKILL');
    child.kill('SIGKILL');
    await exited;
  }
}
