// Exponential backoff with full jitter for reopening devices. Jitter keeps several readers on
// one USB hub (or several gateways after a power cut) from retrying in lock-step.

export interface BackoffOptions {
  /** First delay, ms (default 250). */
  initialMs?: number;
  /** Ceiling for the delay, ms (default 10 000). */
  maxMs?: number;
  /** Growth per failed attempt (default 2). */
  factor?: number;
  /** Random source in [0, 1); injectable for tests. */
  random?: () => number;
}

export class Backoff {
  private attempt = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly factor: number;
  private readonly random: () => number;

  constructor(opts: BackoffOptions = {}) {
    this.initialMs = opts.initialMs ?? 250;
    this.maxMs = opts.maxMs ?? 10_000;
    this.factor = opts.factor ?? 2;
    this.random = opts.random ?? Math.random;
  }

  /** Delay before the next attempt: half the exponential step fixed, half random. */
  next(): number {
    const step = Math.min(this.maxMs, this.initialMs * this.factor ** this.attempt);
    if (step < this.maxMs) this.attempt++;
    return Math.round(step / 2 + (this.random() * step) / 2);
  }

  /** Call after a success so the next failure starts from the initial delay again. */
  reset(): void {
    this.attempt = 0;
  }
}
