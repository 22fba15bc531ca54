// An ONVIF Profile S device of our own for tests and demo mode: device and media services over
// real SOAP, WS-Security checked against the camera's own clock (which may be hours off, like a
// camera that never got NTP), HTTP Digest on the snapshot URI (and optionally on SOAP), a real
// JPEG snapshot, and a WS-Discovery responder on UDP. Binds 127.0.0.1 on free ports by default.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createSocket, type Socket } from 'node:dgram';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { escapeXml, soapOperation, xmlList, xmlText } from '../onvif/soap-xml.js';
import * as soap from './onvif-sim-soap.js';
import { checkBasic, DigestChecker, WsSecurityChecker } from './sim-auth.js';
import { SIM_JPEG } from './sim-jpeg.js';

export type SimSoapAuth = 'ws-security' | 'digest' | 'either' | 'none';
export type SimSnapshotAuth = 'digest' | 'basic' | 'none';

export interface SimDiscoveryOptions {
  /** UDP port to answer Probes on (0: a free one). Ignored with `multicast`. */
  port?: number;
  /** Ignore this many Probes first, as lossy Wi-Fi does. */
  dropFirst?: number;
  /** Answer every Probe twice (as devices on two interfaces do). */
  duplicate?: boolean;
  /** Join 239.255.255.250:3702 instead (needs a multicast-capable interface). */
  multicast?: boolean;
}

export interface OnvifSimOptions {
  host?: string;
  port?: number;
  username?: string;
  password?: string;
  /** Camera clock minus true time, in ms (e.g. 5 h = 18_000_000). */
  clockOffsetMs?: number;
  /** How far WS-Security `Created` may be from the camera clock. Default 10 s. */
  toleranceMs?: number;
  soapAuth?: SimSoapAuth;
  snapshotAuth?: SimSnapshotAuth;
  /** GetStreamUri answer; a function gets the profile token. */
  rtspUrl?: string | ((profileToken: string) => string);
  profiles?: soap.SimProfile[];
  identity?: Partial<soap.SimIdentity>;
  /** Friendly name published in the discovery scopes. */
  name?: string;
  snapshotJpeg?: Buffer;
  /** Start the WS-Discovery responder. */
  discovery?: boolean | SimDiscoveryOptions;
}

export interface OnvifSimStats {
  /** SOAP operations served, by name (rejected ones not counted). */
  operations: Record<string, number>;
  wsSecurityRejected: number;
  /** Last reason a WS-Security token was refused. */
  lastRejection: string | null;
  digestChallenges: number;
  digestRejected: number;
  snapshotsServed: number;
  probesSeen: number;
  probesAnswered: number;
}

export interface OnvifSim {
  host: string;
  port: number;
  /** http://host:port/onvif/device_service */
  deviceUrl: string;
  /** http://host:port/snapshot.jpg (no credentials) */
  snapshotUrl: string;
  /** WS-Discovery endpoint reference address. */
  endpoint: string;
  discoveryPort: number | null;
  identity: soap.SimIdentity;
  profiles: soap.SimProfile[];
  stats: OnvifSimStats;
  setClockOffset(ms: number): void;
  setSnapshot(jpeg: Buffer): void;
  stop(): Promise<void>;
}

export const DEFAULT_SIM_PROFILES: soap.SimProfile[] = [
  { token: 'Profile_2', name: 'subStream', encoding: 'H264', width: 640, height: 360, fps: 15, bitrateKbps: 512 },
  { token: 'Profile_1', name: 'mainStream', encoding: 'H264', width: 1920, height: 1080, fps: 25, bitrateKbps: 4096 },
];

const MAX_BODY = 256 * 1024;

function readBody(req: IncomingMessage): Promise<string | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        resolve(null);
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(null));
  });
}

export async function startOnvifSim(opts: OnvifSimOptions = {}): Promise<OnvifSim> {
  const host = opts.host ?? '127.0.0.1';
  const username = opts.username ?? 'admin';
  const password = opts.password ?? 'admin';
  let clockOffsetMs = opts.clockOffsetMs ?? 0;
  const cameraNow = () => Date.now() + clockOffsetMs;
  const soapAuth = opts.soapAuth ?? 'ws-security';
  const snapshotAuth = opts.snapshotAuth ?? 'digest';
  const profiles = opts.profiles ?? DEFAULT_SIM_PROFILES;
  const identity: soap.SimIdentity = {
    manufacturer: 'TPGW Sim',
    model: 'SimCam 1080',
    firmware: 'V5.7.3 build 260101',
    serial: 'SIM' + randomUUID().slice(0, 8).toUpperCase(),
    hardwareId: 'simcam-hw1',
    ...opts.identity,
  };
  const name = opts.name ?? 'Classroom camera';
  let jpeg = opts.snapshotJpeg ?? SIM_JPEG;
  const endpoint = `urn:uuid:${randomUUID()}`;
  const wsse = new WsSecurityChecker(username, password, cameraNow, opts.toleranceMs ?? 10_000);
  const digest = new DigestChecker(username, password);
  const stats: OnvifSimStats = {
    operations: {},
    wsSecurityRejected: 0,
    lastRejection: null,
    digestChallenges: 0,
    digestRejected: 0,
    snapshotsServed: 0,
    probesSeen: 0,
    probesAnswered: 0,
  };
  let base = '';
  const rtspFor = (token: string) =>
    typeof opts.rtspUrl === 'function' ? opts.rtspUrl(token) : (opts.rtspUrl ?? `rtsp://${host}:8554/${token}`);

  const sendXml = (res: ServerResponse, status: number, xml: string, extra: Record<string, string> = {}) => {
    res.writeHead(status, { 'Content-Type': 'application/soap+xml; charset=utf-8', ...extra });
    res.end(xml);
  };
  const challenge = (res: ServerResponse, body = 'Unauthorized') => {
    stats.digestChallenges++;
    res.writeHead(401, { 'WWW-Authenticate': digest.challenge(), 'Content-Type': 'text/plain' });
    res.end(body);
  };
  const notAuthorized = (res: ServerResponse, reason: string) => {
    stats.wsSecurityRejected++;
    stats.lastRejection = reason;
    sendXml(res, 400, soap.fault('ter:NotAuthorized', 'Sender not Authorized'));
  };

  /** Applies the SOAP auth policy; true when the request may proceed (else the response is sent). */
  const authorizeSoap = (req: IncomingMessage, res: ServerResponse, xml: string): boolean => {
    if (soapAuth === 'none') return true;
    const hasDigest = req.headers.authorization?.startsWith('Digest ') ?? false;
    if (soapAuth === 'digest' || (soapAuth === 'either' && hasDigest)) {
      const v = digest.check(req.headers.authorization, req.method ?? 'POST', req.url ?? '');
      if (v.ok) return true;
      if (hasDigest) stats.digestRejected++;
      if (soapAuth === 'either' && WsSecurityChecker.present(xml)) {
        // fall through to WS-Security below
      } else {
        challenge(res);
        return false;
      }
    }
    if (!WsSecurityChecker.present(xml)) {
      if (soapAuth === 'either') challenge(res);
      else notAuthorized(res, 'no UsernameToken');
      return false;
    }
    const v = wsse.check(xml);
    if (!v.ok) {
      notAuthorized(res, v.reason);
      return false;
    }
    return true;
  };

  const handleSoap = async (req: IncomingMessage, res: ServerResponse) => {
    const xml = await readBody(req);
    if (xml === null) return sendXml(res, 413, soap.fault('ter:InvalidArgVal', 'request too large'));
    const op = soapOperation(xml);
    if (!op) return sendXml(res, 400, soap.fault('ter:WellFormed', 'not a SOAP request'));
    // ONVIF Core §5.9.1: GetSystemDateAndTime must work before authentication, so a client
    // can learn the camera clock and compensate WS-Security timestamps.
    if (op !== 'GetSystemDateAndTime' && !authorizeSoap(req, res, xml)) return;
    stats.operations[op] = (stats.operations[op] ?? 0) + 1;
    const token = xmlText(xml, 'ProfileToken');
    const known = token !== undefined && profiles.some((p) => p.token === token);
    switch (op) {
      case 'GetSystemDateAndTime':
        return sendXml(res, 200, soap.systemDateAndTime(new Date(cameraNow())));
      case 'GetDeviceInformation':
        return sendXml(res, 200, soap.deviceInformation(identity));
      case 'GetCapabilities':
        return sendXml(res, 200, soap.capabilities(base));
      case 'GetServices':
        return sendXml(res, 200, soap.services(base));
      case 'GetProfiles':
        return sendXml(res, 200, soap.profiles(profiles));
      case 'GetVideoSources':
        return sendXml(res, 200, soap.videoSources());
      case 'GetStreamUri':
        if (!known) return sendXml(res, 400, soap.fault('ter:InvalidArgVal', 'ter:NoProfile'));
        return sendXml(res, 200, soap.streamUri(rtspFor(token!)));
      case 'GetSnapshotUri':
        if (!known) return sendXml(res, 400, soap.fault('ter:InvalidArgVal', 'ter:NoProfile'));
        return sendXml(res, 200, soap.snapshotUri(`${base}/snapshot.jpg?profile=${encodeURIComponent(token!)}`));
      default:
        return sendXml(res, 400, soap.fault('ter:ActionNotSupported', `${op} not supported`));
    }
  };

  const handleSnapshot = (req: IncomingMessage, res: ServerResponse) => {
    if (snapshotAuth === 'digest') {
      const v = digest.check(req.headers.authorization, req.method ?? 'GET', req.url ?? '');
      if (!v.ok) {
        if (req.headers.authorization) stats.digestRejected++;
        return challenge(res);
      }
    } else if (snapshotAuth === 'basic') {
      if (!checkBasic(req.headers.authorization, username, password).ok) {
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="tpgw-sim"' });
        return res.end();
      }
    }
    stats.snapshotsServed++;
    res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': String(jpeg.length) });
    res.end(jpeg);
  };

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'POST' && path.startsWith('/onvif/')) {
      handleSoap(req, res).catch(() => {
        if (!res.headersSent) sendXml(res, 500, soap.fault('ter:Action', 'internal error'));
        else res.destroy();
      });
    } else if (req.method === 'GET' && path === '/snapshot.jpg') {
      handleSnapshot(req, res);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  base = `http://${host}:${port}`;

  let udp: Socket | null = null;
  let discoveryPort: number | null = null;
  if (opts.discovery) {
    const d: SimDiscoveryOptions = opts.discovery === true ? {} : opts.discovery;
    udp = createSocket({ type: 'udp4', reuseAddr: Boolean(d.multicast) });
    const sock = udp;
    sock.on('message', (msg, rinfo) => {
      const xml = msg.toString('utf8');
      if (soapOperation(xml) !== 'Probe') return;
      const types = xmlList(xmlText(xml, 'Types'));
      if (types.length && !types.some((t) => t.endsWith('NetworkVideoTransmitter') || t.endsWith('Device'))) return;
      stats.probesSeen++;
      if (stats.probesSeen <= (d.dropFirst ?? 0)) return;
      const reply = Buffer.from(probeMatches(xmlText(xml, 'MessageID') ?? '', endpoint, soap.scopesList(identity, name), `${base}/onvif/device_service`));
      const times = d.duplicate ? 2 : 1;
      for (let k = 0; k < times; k++) {
        stats.probesAnswered++;
        sock.send(reply, rinfo.port, rinfo.address);
      }
    });
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      if (d.multicast) {
        sock.bind(3702, () => {
          sock.addMembership('239.255.255.250');
          resolve();
        });
      } else sock.bind(d.port ?? 0, host, () => resolve());
    });
    discoveryPort = sock.address().port;
  }

  return {
    host,
    port,
    deviceUrl: `${base}/onvif/device_service`,
    snapshotUrl: `${base}/snapshot.jpg`,
    endpoint,
    discoveryPort,
    identity,
    profiles,
    stats,
    setClockOffset: (ms) => {
      clockOffsetMs = ms;
    },
    setSnapshot: (buf) => {
      jpeg = buf;
    },
    stop: async () => {
      if (udp) await new Promise<void>((r) => udp!.close(() => r()));
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function probeMatches(relatesTo: string, endpoint: string, scopes: string[], xaddr: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" ' +
    'xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" ' +
    'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" ' +
    'xmlns:dn="http://www.onvif.org/ver10/network/wsdl" xmlns:tds="http://www.onvif.org/ver10/device/wsdl">' +
    '<SOAP-ENV:Header>' +
    `<wsa:MessageID>urn:uuid:${randomUUID()}</wsa:MessageID>` +
    `<wsa:RelatesTo>${escapeXml(relatesTo)}</wsa:RelatesTo>` +
    '<wsa:To SOAP-ENV:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:To>' +
    '<wsa:Action SOAP-ENV:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsa:Action>' +
    '</SOAP-ENV:Header><SOAP-ENV:Body><d:ProbeMatches><d:ProbeMatch>' +
    `<wsa:EndpointReference><wsa:Address>${escapeXml(endpoint)}</wsa:Address></wsa:EndpointReference>` +
    '<d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types>' +
    `<d:Scopes>${scopes.map(escapeXml).join(' ')}</d:Scopes>` +
    `<d:XAddrs>${escapeXml(xaddr)}</d:XAddrs>` +
    '<d:MetadataVersion>10</d:MetadataVersion>' +
    '</d:ProbeMatch></d:ProbeMatches></SOAP-ENV:Body></SOAP-ENV:Envelope>'
  );
}
