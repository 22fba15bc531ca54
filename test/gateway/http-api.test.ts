// The HTTP API on its own: auth, validation, health, metrics (a fake backend behind real Hono).
import t from 'tap';
import { createApiApp, type HttpBackend, type PunchQuery } from '../../gateway/http/api-app.js';
import { parseListen, startHttp } from '../../gateway/http/http-server.js';

function backend(): HttpBackend & { queries: PunchQuery[] } {
  const queries: PunchQuery[] = [];
  return {
    queries,
    health: () => ({ ok: true, detail: { store: 'open' } }),
    status: () => ({ gateway: 'g1' }),
    punches: (q) => (queries.push(q), [{ id: 'g1:1' }]),
    metrics: async () => ({ contentType: 'text/plain', body: 'tpgw_up 1\n' }),
  };
}

t.test('auth: /api needs the bearer token, /healthz and /metrics do not', async (t) => {
  const app = createApiApp(backend(), 'tok');
  t.equal((await app.request('/healthz')).status, 200);
  t.equal((await app.request('/metrics')).status, 200);
  t.equal((await app.request('/api/status')).status, 401, 'no header');
  t.equal((await app.request('/api/status', { headers: { authorization: 'Bearer nope' } })).status, 401, 'wrong token');
  t.equal((await app.request('/api/status', { headers: { authorization: 'Basic dG9rOg==' } })).status, 401, 'wrong scheme');
  const ok = await app.request('/api/status', { headers: { authorization: 'Bearer tok' } });
  t.equal(ok.status, 200);
  t.same(await ok.json(), { gateway: 'g1' });
});

t.test('no token configured: the API refuses everything', async (t) => {
  const app = createApiApp(backend(), undefined);
  const r = await app.request('/api/status', { headers: { authorization: 'Bearer ' } });
  t.equal(r.status, 401);
  t.match(await r.json(), { error: /http.token/ });
});

t.test('punches: since as seq or ISO time, limit validated', async (t) => {
  const b = backend();
  const app = createApiApp(b, 'tok');
  const h = { headers: { authorization: 'Bearer tok' } };
  t.equal((await app.request('/api/punches?since=5&limit=2', h)).status, 200);
  t.same(b.queries.at(-1), { sinceSeq: 5, limit: 2 });
  t.equal((await app.request('/api/punches?since=2026-12-04T08:00:00%2B08:00', h)).status, 200);
  t.same(b.queries.at(-1), { since: '2026-12-04T08:00:00+08:00', limit: 100 });
  for (const bad of ['since=yesterday', 'limit=0', 'limit=abc', 'limit=100000']) {
    const r = await app.request(`/api/punches?${bad}`, h);
    t.equal(r.status, 400, bad);
  }
  t.equal(b.queries.length, 2, 'bad queries never reach the store');
  t.equal((await app.request('/api/nothing', h)).status, 404);
});

t.test('listen addresses', async (t) => {
  t.same(parseListen('127.0.0.1:8080'), { host: '127.0.0.1', port: 8080 });
  t.same(parseListen('[::1]:9000'), { host: '::1', port: 9000 });
  t.same(parseListen(':8080'), { host: '0.0.0.0', port: 8080 });
  t.throws(() => parseListen('nonsense'));
  const running = await startHttp(createApiApp(backend(), 'tok'), '127.0.0.1:0');
  t.teardown(() => running.close());
  const r = await fetch(`http://127.0.0.1:${running.port}/healthz`);
  t.equal(r.status, 200);
});
