// The HTTP API on http.listen (default 127.0.0.1:8080). /healthz and /metrics are open so a
// supervisor or Prometheus can poll them; everything under /api/ needs the bearer token from
// http.token. With no token configured the API refuses every request rather than run open.
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

export interface PunchQuery {
  sinceSeq?: number;
  since?: string;
  limit: number;
}

/** What the HTTP layer needs from the running gateway. */
export interface HttpBackend {
  health(): { ok: boolean; detail: Record<string, unknown> };
  status(): unknown;
  punches(q: PunchQuery): unknown[];
  metrics(): Promise<{ contentType: string; body: string }>;
}

const punchQuerySchema = z.object({
  // `since` is either a sequence number (punches after it) or an ISO-8601 time (punches at/after it).
  since: z
    .string()
    .refine((s) => /^\d+$/.test(s) || !Number.isNaN(Date.parse(s)), 'must be a sequence number or an ISO-8601 time')
    .optional(),
  limit: z.coerce.number().int().min(1).max(5000).default(100),
});

export function createApiApp(backend: HttpBackend, token: string | undefined): Hono {
  const app = new Hono();

  app.get('/healthz', (c) => {
    const h = backend.health();
    return c.json({ status: h.ok ? 'ok' : 'degraded', ...h.detail }, h.ok ? 200 : 503);
  });

  app.get('/metrics', async (c) => {
    const m = await backend.metrics();
    return c.body(m.body, 200, { 'content-type': m.contentType });
  });

  // Every failure is a 401 (missing, malformed or wrong), as the API contract says; tokens are
  // compared by their hashes in constant time so the comparison leaks neither content nor length.
  const expected = token ? createHash('sha256').update(token).digest() : undefined;
  app.use('/api/*', async (c, next) => {
    const deny = (error: string) => c.json({ error }, 401, { 'WWW-Authenticate': 'Bearer realm="tpgw"' });
    if (!expected) return deny('API disabled: set http.token in the config');
    const m = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '');
    if (!m) return deny('bearer token required');
    if (!timingSafeEqual(createHash('sha256').update(m[1]).digest(), expected)) return deny('invalid token');
    await next();
  });

  app.get('/api/status', (c) => c.json(backend.status() as object));

  app.get('/api/punches', (c) => {
    const parsed = punchQuerySchema.safeParse(c.req.query());
    if (!parsed.success) {
      return c.json({ error: 'bad query', issues: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) }, 400);
    }
    const { since, limit } = parsed.data;
    const q: PunchQuery = { limit };
    if (since !== undefined) {
      if (/^\d+$/.test(since)) q.sinceSeq = Number(since);
      else q.since = since;
    }
    const punches = backend.punches(q);
    return c.json({ punches, count: punches.length });
  });

  app.notFound((c) => c.json({ error: 'not found' }, 404));
  app.onError((err, c) => (err instanceof HTTPException ? err.getResponse() : c.json({ error: err.message }, 500)));
  return app;
}
