// Binds the Hono app to http.listen ("host:port", "[::1]:port" or just a port).
import { serve, type ServerType } from '@hono/node-server';
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
  return new Promise((resolve, reject) => {
    let server: ServerType | undefined;
    const onError = (err: Error) => reject(new Error(`http: cannot listen on ${listen}: ${err.message}`));
    server = serve({ fetch: app.fetch, hostname: host, port }, (info) => {
      server!.off('error', onError);
      resolve({
        host,
        port: info.port,
        close: () =>
          new Promise<void>((r) => {
            (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
            server!.close(() => r());
          }),
      });
    });
    server.once('error', onError);
  });
}
