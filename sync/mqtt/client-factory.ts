// Creates the mqtt.js client for a center URL. For plain mqtt:// (tcp://) and mqtts:// (ssl://)
// URLs the client is built with mqtt.js's documented `new MqttClient(streamBuilder, options)`
// and a stream from node:net or node:tls. `mqtt.connect()` would do the same, but its first
// call loads every transport it knows (WebSocket with the `ws` library, SOCKS proxying, ...):
// ~1 MB resident on a box that speaks one of them. Anything else — ws:// and wss://, a URL
// carrying credentials or query options, a SOCKS proxy from MQTTJS_SOCKS_PROXY — goes through
// `mqtt.connect()` unchanged, so its URL handling stays mqtt.js's.
import { connect as netConnect, isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import mqtt, { MqttClient, type IClientOptions } from 'mqtt';

type Transport = 'tcp' | 'tls';

const TRANSPORTS: Record<string, Transport> = { 'mqtt:': 'tcp', 'tcp:': 'tcp', 'mqtts:': 'tls', 'ssl:': 'tls' };

interface Endpoint {
  transport: Transport;
  host: string;
  port: number;
}

/** Where a plain TCP or TLS URL points, or null when mqtt.connect() should handle the URL. */
export function directEndpoint(url: string, env: NodeJS.ProcessEnv = process.env): Endpoint | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  const transport = TRANSPORTS[u.protocol.toLowerCase()];
  if (!transport || u.username || u.password || u.search || (u.pathname !== '' && u.pathname !== '/')) return null;
  if (env.MQTTJS_SOCKS_PROXY) return null;
  // URL keeps IPv6 literals in brackets; sockets want them bare.
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost';
  const port = u.port ? Number(u.port) : transport === 'tls' ? 8883 : 1883;
  return { transport, host, port };
}

/**
 * An mqtt.js client for `url`, connecting at once. `options` are mqtt.js client options (TLS
 * material in `ca`/`cert`/`key`, `rejectUnauthorized`), as for mqtt.connect().
 */
export function createMqttClient(url: string, options: IClientOptions): MqttClient {
  const ep = directEndpoint(url);
  if (!ep) return mqtt.connect(url, options);
  const build = (): ReturnType<typeof netConnect> => {
    if (ep.transport === 'tcp') return netConnect({ host: ep.host, port: ep.port });
    return tlsConnect({
      host: ep.host,
      port: ep.port,
      // SNI and the certificate's name check use the host name; an IP literal is checked as such.
      ...(isIP(ep.host) === 0 ? { servername: ep.host } : {}),
      ca: options.ca,
      cert: options.cert,
      key: options.key,
      // Node refuses an unverifiable server during the handshake unless explicitly told not to.
      rejectUnauthorized: options.rejectUnauthorized !== false,
    });
  };
  return new MqttClient(build, { ...options, protocol: ep.transport === 'tls' ? 'mqtts' : 'mqtt', host: ep.host, port: ep.port });
}
