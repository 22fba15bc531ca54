// WS-Discovery for the installer: who is on the network, what are they, and do the credentials
// we were given work. UDP probes get lost (Wi-Fi, busy switches), so the Probe is sent several
// times and answers are deduplicated by endpoint reference address. Tests aim the probe at a
// simulator on loopback instead of the multicast group.
import { createSocket } from 'node:dgram';
import { OnvifCamera, OnvifError } from './onvif-camera.js';
import {
  buildProbe,
  newMessageId,
  parseProbeMatches,
  parseScopes,
  WSD_MULTICAST_ADDRESS,
  WSD_PORT,
  type ProbeMatch,
} from './ws-discovery-messages.js';

export interface DiscoveryTarget {
  host: string;
  port: number;
}

export interface ProbeOptions {
  /** Where Probes go. Default: the WS-Discovery multicast group 239.255.255.250:3702. */
  targets?: DiscoveryTarget[];
  /** How many times each Probe is sent. Default 3. */
  probes?: number;
  /** Pause between repeated Probes. Default 500 ms. */
  probeIntervalMs?: number;
  /** How long to listen after the last Probe. Default 2000 ms. */
  listenMs?: number;
  /** Local address to send from (picks the interface for multicast). */
  bindAddress?: string;
}

export interface ProbedDevice extends ProbeMatch {
  /** Host of the device service (the XAddr host, preferring the one the answer came from). */
  host: string;
  port: number;
  /** Device service path from the XAddr. */
  path: string;
  /** UDP source of the first answer. */
  from: string;
}

/** Sends repeated Probes and collects distinct devices. Never rejects on bad datagrams. */
export async function probe(opts: ProbeOptions = {}): Promise<ProbedDevice[]> {
  const targets = opts.targets ?? [{ host: WSD_MULTICAST_ADDRESS, port: WSD_PORT }];
  const count = Math.max(1, opts.probes ?? 3);
  const interval = opts.probeIntervalMs ?? 500;
  const listenMs = opts.listenMs ?? 2000;
  const socket = createSocket({ type: 'udp4', reuseAddr: true });
  const sent = new Set<string>();
  const found = new Map<string, ProbedDevice>();

  socket.on('message', (msg, rinfo) => {
    if (msg.length > 64 * 1024) return;
    const { relatesTo, matches } = parseProbeMatches(msg.toString('utf8'));
    // Answers to someone else's probe (or stray Hellos) are not ours to report.
    if (relatesTo && !sent.has(relatesTo)) return;
    for (const m of matches) {
      if (found.has(m.address)) continue;
      const urls = m.xaddrs.map((x) => new URL(x));
      const url = urls.find((u) => u.hostname === rinfo.address) ?? urls[0];
      found.set(m.address, {
        ...m,
        host: url.hostname,
        port: url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80,
        path: url.pathname || '/onvif/device_service',
        from: rinfo.address,
      });
    }
  });

  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, opts.bindAddress, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  socket.on('error', () => {
    /* a send to an unreachable target must not end discovery */
  });
  if (targets.some((t) => t.host === WSD_MULTICAST_ADDRESS)) {
    try {
      socket.setMulticastTTL(1);
      if (opts.bindAddress) socket.setMulticastInterface(opts.bindAddress);
    } catch {
      /* no multicast-capable interface: the send fails, the result is empty */
    }
  }
  try {
    for (let i = 0; i < count; i++) {
      // A fresh MessageID per round: devices that suppress duplicate probes still answer.
      const id = newMessageId();
      sent.add(id);
      const datagram = Buffer.from(buildProbe(id));
      for (const t of targets) socket.send(datagram, t.port, t.host);
      if (i < count - 1) await sleep(interval);
    }
    await sleep(listenMs);
  } finally {
    socket.close();
  }
  return [...found.values()];
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export interface DiscoveryOptions extends ProbeOptions {
  /** Tried against every device found (GetDeviceInformation with WS-Security). */
  credentials?: { username: string; password: string };
  /** Per device query. Default 5 s. */
  queryTimeoutMs?: number;
}

export interface DiscoveredCamera {
  /** Device host (IP) and ONVIF port: what goes in the `onvif` config. */
  address: string;
  port: number;
  /** WS-Discovery endpoint reference (stable device identity). */
  endpoint: string;
  xaddrs: string[];
  scopes: string[];
  /** From the name/ scope. */
  name?: string;
  /** GetDeviceInformation, else the hardware/ scope for the model. */
  manufacturer?: string;
  model?: string;
  firmware?: string;
  serial?: string;
  /** true: the credentials work; false: the device refused them; null: not tried or not known. */
  credentialsOk: boolean | null;
  /** Why the device could not be queried, when it could not (never holds a password). */
  error?: string;
}

/** Probes, then asks each device who it is (concurrently), with the credentials when given. */
export async function discoverCameras(opts: DiscoveryOptions = {}): Promise<DiscoveredCamera[]> {
  const devices = await probe(opts);
  return Promise.all(devices.map((d) => describe(d, opts)));
}

async function describe(d: ProbedDevice, opts: DiscoveryOptions): Promise<DiscoveredCamera> {
  const scope = parseScopes(d.scopes);
  const out: DiscoveredCamera = {
    address: d.host,
    port: d.port,
    endpoint: d.address,
    xaddrs: d.xaddrs,
    scopes: d.scopes,
    name: scope.name,
    model: scope.hardware,
    credentialsOk: null,
  };
  const cam = new OnvifCamera(
    { host: d.host, port: d.port, path: d.path, username: opts.credentials?.username, password: opts.credentials?.password },
    { timeoutMs: opts.queryTimeoutMs ?? 5000 },
  );
  try {
    const info = await cam.deviceInformation();
    Object.assign(out, {
      manufacturer: info.manufacturer,
      model: info.model ?? out.model,
      firmware: info.firmware,
      serial: info.serial,
    });
    if (opts.credentials) out.credentialsOk = true;
  } catch (err) {
    const e = err as OnvifError;
    if (opts.credentials && e.kind === 'auth') out.credentialsOk = false;
    out.error = e.message;
  }
  return out;
}
