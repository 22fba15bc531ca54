// Parses a center ack `{"v":1,"batch":"<id>"}`. Anything else is rejected with a reason; no
// input, however broken, throws out of here.
import { z } from 'zod';

const MAX_ACK_BYTES = 64 * 1024;

const ackSchema = z.looseObject({
  v: z.literal(1),
  batch: z.string().min(1).max(256),
});

export type AckParse = { ok: true; batch: string } | { ok: false; error: string };

export function parseAck(payload: Buffer | string): AckParse {
  try {
    const len = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
    if (len > MAX_ACK_BYTES) return { ok: false, error: `ack too large (${len} bytes)` };
    let json: unknown;
    try {
      json = JSON.parse(payload.toString());
    } catch {
      return { ok: false, error: 'ack is not valid JSON' };
    }
    const r = ackSchema.safeParse(json);
    if (!r.success) return { ok: false, error: `ack rejected: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}` };
    return { ok: true, batch: r.data.batch };
  } catch (err) {
    return { ok: false, error: `ack unreadable: ${(err as Error).message}` };
  }
}
