// Parses a request payload `{"v":1,"transaction":<any>, ...args}` (zigbee2mqtt convention).
// Returns the transaction (when one could be read) even for rejected requests, so the error
// response can still echo it. Never throws.
import { z } from 'zod';

export const MAX_REQUEST_BYTES = 256 * 1024;

const transactionSchema = z.union([z.string().max(256), z.number()]);

const requestSchema = z.looseObject({
  v: z.literal(1, { error: 'v must be 1' }).optional(),
  transaction: transactionSchema.optional(),
});

export type Transaction = z.infer<typeof transactionSchema>;

export type RequestParse =
  | { ok: true; transaction?: Transaction; args: Record<string, unknown> }
  | { ok: false; transaction?: Transaction; error: string };

export function parseRequest(payload: Buffer | string): RequestParse {
  try {
    const len = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
    if (len > MAX_REQUEST_BYTES) return { ok: false, error: `request too large (${len} bytes, max ${MAX_REQUEST_BYTES})` };
    let json: unknown;
    try {
      // An empty payload means "no arguments", as for zigbee2mqtt's bare requests.
      const text = payload.toString();
      json = text.trim() === '' ? {} : JSON.parse(text);
    } catch {
      return { ok: false, error: 'malformed JSON' };
    }
    if (json === null || typeof json !== 'object' || Array.isArray(json)) {
      return { ok: false, error: 'request payload must be a JSON object' };
    }
    const raw = json as Record<string, unknown>;
    const tx = transactionSchema.safeParse(raw.transaction);
    const transaction = tx.success ? tx.data : undefined;
    const r = requestSchema.safeParse(raw);
    if (!r.success) {
      return { ok: false, transaction, error: r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ') };
    }
    const { v: _v, transaction: _t, ...args } = r.data;
    return { ok: true, transaction, args };
  } catch (err) {
    return { ok: false, error: `request unreadable: ${(err as Error).message}` };
  }
}
