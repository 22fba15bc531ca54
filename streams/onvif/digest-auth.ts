// HTTP Digest access authentication, client side (RFC 7616; RFC 2617 servers without qop too).
// Cameras protect snapshot URIs with it; the `onvif` library has its own copy for SOAP only.
// Supports MD5, SHA-256 and their -sess variants, qop=auth (and auth-int for empty bodies, which
// is all a GET has), nonce reuse with an incrementing nonce count, and stale nonces.
import { createHash, randomBytes } from 'node:crypto';

export class DigestAuthError extends Error {
  override name = 'DigestAuthError';
}

export interface AuthChallenge {
  /** Lower-cased scheme: 'digest', 'basic', ... */
  scheme: string;
  /** Parameters by lower-cased name, quoted-string values unescaped. */
  params: Record<string, string>;
}

export type DigestAlgorithm = 'MD5' | 'MD5-sess' | 'SHA-256' | 'SHA-256-sess';

export interface DigestChallenge {
  realm: string;
  nonce: string;
  opaque?: string;
  algorithm: DigestAlgorithm;
  /** The qop we will use, or undefined for an RFC 2069-style server that offered none. */
  qop?: 'auth' | 'auth-int';
  stale: boolean;
  /** RFC 7616 userhash=true: we then send the hashed username. */
  userhash: boolean;
}

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/**
 * Parses WWW-Authenticate header values into challenges. A header value may hold several
 * challenges (`Basic realm="a", Digest realm="b", nonce="c"`), and a response may carry several
 * headers. Throws DigestAuthError (only) on malformed input.
 */
export function parseWwwAuthenticate(values: string | string[]): AuthChallenge[] {
  const out: AuthChallenge[] = [];
  for (const value of Array.isArray(values) ? values : [values]) out.push(...parseOne(value));
  return out;
}

function parseOne(s: string): AuthChallenge[] {
  const out: AuthChallenge[] = [];
  let current: AuthChallenge | null = null;
  let i = 0;
  const n = s.length;
  const skip = (re: RegExp) => {
    while (i < n && re.test(s[i])) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < n && TCHAR.test(s[i])) i++;
    return s.slice(start, i);
  };
  for (;;) {
    skip(/[\s,]/);
    if (i >= n) break;
    const name = token();
    if (!name) throw new DigestAuthError(`unexpected character ${JSON.stringify(s[i])} in WWW-Authenticate at ${i}`);
    skip(/\s/);
    if (s[i] === '=' && current && s[i + 1] !== '=') {
      i++;
      skip(/\s/);
      let value: string;
      if (s[i] === '"') {
        i++;
        value = '';
        for (;;) {
          if (i >= n) throw new DigestAuthError('unterminated quoted string in WWW-Authenticate');
          const c = s[i++];
          if (c === '"') break;
          if (c === '\\') {
            if (i >= n) throw new DigestAuthError('unterminated quoted string in WWW-Authenticate');
            value += s[i++];
          } else value += c;
        }
      } else {
        value = token();
        if (!value) throw new DigestAuthError(`missing value for ${name} in WWW-Authenticate`);
      }
      current.params[name.toLowerCase()] = value;
      skip(/\s/);
      if (i < n && s[i] !== ',') throw new DigestAuthError(`expected ',' after ${name} in WWW-Authenticate`);
    } else if (s[i] === '=' && !current) {
      throw new DigestAuthError('WWW-Authenticate parameter before any scheme');
    } else {
      // A new challenge. A token68 (Basic/Bearer style blob) may follow the scheme: skip it.
      current = { scheme: name.toLowerCase(), params: Object.create(null) };
      out.push(current);
      const rest = s.slice(i);
      const isParam = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+\s*=\s*["!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(rest);
      const t68 = /^[A-Za-z0-9\-._~+/]+=*(?=$|[\s,])/.exec(rest);
      if (!isParam && t68) i += t68[0].length;
    }
  }
  return out;
}

const ALGORITHMS: Record<string, DigestAlgorithm> = {
  md5: 'MD5',
  'md5-sess': 'MD5-sess',
  'sha-256': 'SHA-256',
  'sha-256-sess': 'SHA-256-sess',
};
const STRENGTH: Record<DigestAlgorithm, number> = { MD5: 1, 'MD5-sess': 1, 'SHA-256': 2, 'SHA-256-sess': 2 };

/** Turns one parsed challenge into a Digest challenge we can answer, or throws DigestAuthError. */
export function toDigestChallenge(ch: AuthChallenge): DigestChallenge {
  if (ch.scheme !== 'digest') throw new DigestAuthError(`not a Digest challenge: ${ch.scheme}`);
  const { realm, nonce } = ch.params;
  if (realm === undefined) throw new DigestAuthError('Digest challenge without realm');
  if (!nonce) throw new DigestAuthError('Digest challenge without nonce');
  const algorithm = ALGORITHMS[(ch.params.algorithm ?? 'MD5').toLowerCase()];
  if (!algorithm) throw new DigestAuthError(`unsupported Digest algorithm ${ch.params.algorithm}`);
  let qop: DigestChallenge['qop'];
  if (ch.params.qop !== undefined) {
    const offered = ch.params.qop.split(',').map((q) => q.trim().toLowerCase());
    if (offered.includes('auth')) qop = 'auth';
    else if (offered.includes('auth-int')) qop = 'auth-int';
    else throw new DigestAuthError(`unsupported Digest qop ${ch.params.qop}`);
  }
  return {
    realm,
    nonce,
    opaque: ch.params.opaque,
    algorithm,
    qop,
    stale: (ch.params.stale ?? '').toLowerCase() === 'true',
    userhash: (ch.params.userhash ?? '').toLowerCase() === 'true',
  };
}

/**
 * Picks the strongest Digest challenge we support from WWW-Authenticate values.
 * Returns null when the server offers no Digest at all; throws DigestAuthError when it offers
 * Digest but none we can answer (the reason of the first failure).
 */
export function pickDigestChallenge(values: string | string[]): DigestChallenge | null {
  const digests = parseWwwAuthenticate(values).filter((c) => c.scheme === 'digest');
  if (digests.length === 0) return null;
  let best: DigestChallenge | null = null;
  let firstError: unknown = null;
  for (const c of digests) {
    try {
      const d = toDigestChallenge(c);
      if (!best || STRENGTH[d.algorithm] > STRENGTH[best.algorithm]) best = d;
    } catch (err) {
      firstError ??= err;
    }
  }
  if (!best) throw firstError;
  return best;
}

export interface DigestResponseInput {
  challenge: DigestChallenge;
  username: string;
  password: string;
  method: string;
  /** Request-target as sent on the request line (path and query). */
  uri: string;
  /** Nonce count, 1-based. */
  nc: number;
  cnonce: string;
  /** Body, for qop=auth-int; empty when absent. */
  body?: Buffer;
}

function hashFor(algorithm: DigestAlgorithm): (s: string | Buffer) => string {
  const name = algorithm.startsWith('SHA-256') ? 'sha256' : 'md5';
  return (s) => createHash(name).update(s).digest('hex');
}

/** The `response` value (RFC 7616 §3.4.1). */
export function digestResponse(i: DigestResponseInput): string {
  const H = hashFor(i.challenge.algorithm);
  const { realm, nonce, qop, algorithm } = i.challenge;
  let ha1 = H(`${i.username}:${realm}:${i.password}`);
  if (algorithm.endsWith('-sess')) ha1 = H(`${ha1}:${nonce}:${i.cnonce}`);
  const ha2 = qop === 'auth-int' ? H(`${i.method}:${i.uri}:${H(i.body ?? Buffer.alloc(0))}`) : H(`${i.method}:${i.uri}`);
  if (!qop) return H(`${ha1}:${nonce}:${ha2}`);
  return H(`${ha1}:${nonce}:${formatNc(i.nc)}:${i.cnonce}:${qop}:${ha2}`);
}

export function formatNc(nc: number): string {
  return nc.toString(16).padStart(8, '0');
}

function quote(s: string): string {
  return `"${s.replace(/(["\\])/g, '\\$1')}"`;
}

/** The full `Authorization: Digest ...` header value. */
export function digestAuthorization(i: DigestResponseInput): string {
  const { challenge } = i;
  const H = hashFor(challenge.algorithm);
  const username = challenge.userhash ? H(`${i.username}:${challenge.realm}`) : i.username;
  const parts = [
    `username=${quote(username)}`,
    `realm=${quote(challenge.realm)}`,
    `nonce=${quote(challenge.nonce)}`,
    `uri=${quote(i.uri)}`,
    `algorithm=${challenge.algorithm}`,
    `response=${quote(digestResponse(i))}`,
  ];
  if (challenge.qop) parts.push(`qop=${challenge.qop}`, `nc=${formatNc(i.nc)}`, `cnonce=${quote(i.cnonce)}`);
  if (challenge.opaque !== undefined) parts.push(`opaque=${quote(challenge.opaque)}`);
  if (challenge.userhash) parts.push('userhash=true');
  return `Digest ${parts.join(', ')}`;
}

/**
 * Per-server Digest state: remembers the last challenge so later requests authenticate up front
 * with the next nonce count instead of paying a 401 round trip each time.
 */
export class DigestSession {
  private challenge: DigestChallenge | null = null;
  private nc = 0;

  constructor(
    private readonly username: string,
    private readonly password: string,
  ) {}

  /** Adopts a new challenge from a 401 response (resets the nonce count). */
  accept(challenge: DigestChallenge): void {
    this.challenge = challenge;
    this.nc = 0;
  }

  get hasChallenge(): boolean {
    return this.challenge !== null;
  }

  forget(): void {
    this.challenge = null;
    this.nc = 0;
  }

  /** Authorization header for the next request, or null before any challenge was seen. */
  authorize(method: string, uri: string, body?: Buffer): string | null {
    if (!this.challenge) return null;
    this.nc = this.nc >= 0xffffffff ? 1 : this.nc + 1;
    return digestAuthorization({
      challenge: this.challenge,
      username: this.username,
      password: this.password,
      method,
      uri,
      nc: this.nc,
      cnonce: randomBytes(12).toString('hex'),
      body,
    });
  }
}
