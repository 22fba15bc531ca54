// The sync/ requests: `sync/status` and `sync/resend`. (`ping` and `info` are registered by
// gateway/, which knows versions and devices.)
import { z } from 'zod';
import { STREAMS, type StreamName, type StreamStats } from '../types.js';
import type { Outbox } from '../outbox/outbox.js';
import type { RequestRouter } from './request-router.js';

const resendArgs = z.strictObject({
  stream: z.enum(STREAMS).default('attendance'),
  from: z.number().int().min(0),
});

/** What sync/resend needs of an uplink: re-read in-flight state and send again. */
export interface ResyncTarget {
  resync(): void;
}

export interface SyncRequestDeps {
  outbox: Outbox;
  /** Streams to report; default all. */
  streams?: readonly StreamName[];
  uplinks?: Partial<Record<StreamName, ResyncTarget>>;
}

export function registerSyncRequests(router: RequestRouter, deps: SyncRequestDeps): void {
  const streams = deps.streams ?? STREAMS;
  router.register('sync/status', () => {
    const out: Record<string, StreamStats> = {};
    for (const s of streams) out[s] = deps.outbox.stats(s);
    return { streams: out };
  });
  router.register('sync/resend', (args) => {
    const r = resendArgs.safeParse(args);
    if (!r.success) throw new Error(r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '));
    const requeued = deps.outbox.resendFrom(r.data.stream, r.data.from);
    deps.uplinks?.[r.data.stream]?.resync();
    return { stream: r.data.stream, from: r.data.from, requeued };
  });
}
