// Binds the Hono app to http.listen ("host:port", "[::1]:port" or just a port).
//
// The node:http server listens from the start; @hono/node-server, which adapts node requests to
// the Fetch API Hono speaks, is loaded on the first request. Loading it loads Node's bundled
// undici (global Request/Response) and compiles undici's WebAssembly HTTP parser: ~4 MB resident
// that a box nobody is querying never needs (measured with `npm run bench -- gateway`).
import { createServer, type RequestListener } from 'node:http';
import type { Hono } from 'hono';

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(listen) ?? (/^\d+$/.test(listen) ? [listen, undefined, '127.0.0.1', listen] : null);
  if (!m) throw new Error(`http.listen "${listen}" is not host:port`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port: Number(m[3]) };
}

export interface RunningHttp {
  host: string;
  port: number;
  close(): Promise<void>;
}

export function startHttp(app: Hono, listen: string): Promise<RunningHttp> {
  const { host, port } = parseListen(listen);
  let listener: Promise<RequestListener> | undefined;
  const server = createServer((req, res) => {
    listener ??= import('@hono/node-server').then(({ getRequestListener }) => getRequestListener(app.fetch));
    listener.then(
      (handle) => handle(req, res),
      (err: Error) => {
        res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `http adapter failed to load: ${err.message}` }));
      },
    );
  });
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(new Error(`http: cannot listen on ${listen}: ${err.message}`));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const addr = server.address();
      resolve({
        host,
        port: typeof addr === 'object' && addr ? addr.port : port,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    });
  });
}
