// Demo mode's broker: Aedes in-process on loopback, so a fresh machine needs no Mosquitto.
import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';

export interface EmbeddedBroker {
  port: number;
  url: string;
  stop(): Promise<void>;
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', onError);
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : port);
    });
  });
}

/** Listens on `port`, or on a free port when that one is taken (say, by a local Mosquitto). */
export async function startEmbeddedBroker(port: number): Promise<EmbeddedBroker> {
  const aedes = await Aedes.createBroker();
  const server = createServer(aedes.handle);
  let bound: number;
  try {
    bound = await listen(server, port);
  } catch {
    bound = await listen(server, 0);
  }
  return {
    port: bound,
    url: `mqtt://127.0.0.1:${bound}`,
    stop: () => new Promise<void>((resolve) => aedes.close(() => server.close(() => resolve()))),
  };
}
