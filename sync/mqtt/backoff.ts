// Reconnect delays: exponential from minMs, capped at maxMs, with "equal jitter" (half fixed,
// half random) so thousands of gateways that lost the same broker do not return in lockstep.
export function backoffDelay(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const lo = Math.max(1, minMs);
  const hi = Math.max(lo, maxMs);
  const exp = Math.min(hi, lo * 2 ** Math.min(Math.max(0, attempt), 30));
  const r = Math.min(1, Math.max(0, random()));
  return Math.round(exp / 2 + (r * exp) / 2);
}
