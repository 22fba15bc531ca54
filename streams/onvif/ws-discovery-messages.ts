// WS-Discovery (2005/04, the version ONVIF uses) messages: the Probe we send and the
// ProbeMatches cameras answer with. Parsing never throws: a datagram that is not a usable
// ProbeMatches yields no matches.
import { randomUUID } from 'node:crypto';
import { escapeXml, xmlElements, xmlList, xmlText } from './soap-xml.js';

export const WSD_MULTICAST_ADDRESS = '239.255.255.250';
export const WSD_PORT = 3702;

/** A new `urn:uuid:` message id. */
export function newMessageId(): string {
  return `urn:uuid:${randomUUID()}`;
}

/** A Probe for ONVIF video transmitters (cameras, encoders, NVRs answer it). */
export function buildProbe(messageId: string, types = 'dn:NetworkVideoTransmitter'): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" ' +
    'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" ' +
    'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" ' +
    'xmlns:dn="http://www.onvif.org/ver10/network/wsdl">' +
    '<s:Header>' +
    `<a:MessageID>${escapeXml(messageId)}</a:MessageID>` +
    '<a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>' +
    '<a:Action s:mustUnderstand="1">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action>' +
    '</s:Header>' +
    `<s:Body><d:Probe><d:Types>${escapeXml(types)}</d:Types></d:Probe></s:Body>` +
    '</s:Envelope>'
  );
}

export interface ProbeMatch {
  /** Endpoint reference address: the device's stable identity (usually `urn:uuid:...`). */
  address: string;
  types: string[];
  scopes: string[];
  /** Device service URLs. */
  xaddrs: string[];
  metadataVersion?: number;
}

export interface ProbeMatches {
  /** The MessageID of the Probe this answers, when the device said. */
  relatesTo?: string;
  matches: ProbeMatch[];
}

/** Parses a ProbeMatches datagram. Matches without an address or any XAddr are dropped. */
export function parseProbeMatches(xml: string): ProbeMatches {
  const relatesTo = xmlText(xml, 'RelatesTo') || undefined;
  const matches: ProbeMatch[] = [];
  for (const pm of xmlElements(xml, 'ProbeMatch')) {
    const epr = xmlElements(pm.inner, 'EndpointReference')[0];
    const address = epr ? xmlText(epr.inner, 'Address') : undefined;
    const xaddrs = xmlList(xmlText(pm.inner, 'XAddrs')).filter(isHttpUrl);
    if (!address || xaddrs.length === 0) continue;
    const mv = Number(xmlText(pm.inner, 'MetadataVersion'));
    matches.push({
      address,
      types: xmlList(xmlText(pm.inner, 'Types')),
      scopes: xmlList(xmlText(pm.inner, 'Scopes')),
      xaddrs,
      metadataVersion: Number.isFinite(mv) && xmlText(pm.inner, 'MetadataVersion') ? mv : undefined,
    });
  }
  return { relatesTo, matches };
}

function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

export interface ScopeInfo {
  name?: string;
  hardware?: string;
  location?: string;
  /** Profiles the device claims (Streaming = S, T, G, ...). */
  profiles: string[];
}

/** Reads the well-known onvif:// scopes (values are URL-encoded by most devices). */
export function parseScopes(scopes: string[]): ScopeInfo {
  const info: ScopeInfo = { profiles: [] };
  const prefix = 'onvif://www.onvif.org/';
  for (const scope of scopes) {
    if (!scope.toLowerCase().startsWith(prefix)) continue;
    const rest = scope.slice(prefix.length);
    const slash = rest.indexOf('/');
    if (slash < 0) continue;
    const key = rest.slice(0, slash).toLowerCase();
    const value = safeDecode(rest.slice(slash + 1));
    if (!value) continue;
    if (key === 'name') info.name ??= value;
    else if (key === 'hardware') info.hardware ??= value;
    else if (key === 'location') info.location ??= value;
    else if (key === 'profile') info.profiles.push(value);
  }
  return info;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}
