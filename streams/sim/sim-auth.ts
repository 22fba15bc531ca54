// Server-side checks the ONVIF simulator applies, written independently of the client code so
// a test proves the client against a separate implementation of the rules a camera enforces:
// WS-Security UsernameToken PasswordDigest judged on the camera's own (possibly wrong) clock,
// and HTTP Digest (RFC 2617 MD5, qop=auth) with server nonces and nonce counts.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { xmlElements, xmlText } from '../onvif/soap-xml.js';
import { parseWwwAuthenticate } from '../onvif/digest-auth.js';

export type Verdict = { ok: true } | { ok: false; reason: string };

function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

export class WsSecurityChecker {
  private readonly seenNonces = new Set<string>();

  constructor(
    private readonly username: string,
    private readonly password: string,
    /** The camera's clock: what it compares `Created` against. */
    private readonly cameraNow: () => number,
    private readonly toleranceMs: number,
  ) {}

  /** Does the SOAP request carry a UsernameToken at all? */
  static present(xml: string): boolean {
    return xmlElements(xml, 'UsernameToken').length > 0;
  }

  check(xml: string): Verdict {
    const token = xmlElements(xml, 'UsernameToken')[0];
    if (!token) return { ok: false, reason: 'no UsernameToken' };
    const user = xmlText(token.inner, 'Username');
    const pwEl = xmlElements(token.inner, 'Password')[0];
    const nonce = xmlText(token.inner, 'Nonce');
    const created = xmlText(token.inner, 'Created');
    if (user === undefined || !pwEl) return { ok: false, reason: 'incomplete UsernameToken' };
    if (user !== this.username) return { ok: false, reason: 'unknown user' };
    const password = pwEl.inner.trim();
    const type = pwEl.attrs.Type ?? '';
    if (type.endsWith('#PasswordText')) {
      return safeEqual(password, this.password) ? { ok: true } : { ok: false, reason: 'wrong password' };
    }
    if (!nonce || !created) return { ok: false, reason: 'PasswordDigest without Nonce/Created' };
    const createdMs = Date.parse(created);
    if (!Number.isFinite(createdMs)) return { ok: false, reason: 'bad Created' };
    const skew = createdMs - this.cameraNow();
    if (Math.abs(skew) > this.toleranceMs) {
      return { ok: false, reason: `Created is ${Math.round(skew / 1000)} s off the camera clock` };
    }
    const expected = createHash('sha1')
      .update(Buffer.concat([Buffer.from(nonce, 'base64'), Buffer.from(created), Buffer.from(this.password)]))
      .digest('base64');
    if (!safeEqual(password, expected)) return { ok: false, reason: 'wrong password digest' };
    if (this.seenNonces.has(nonce)) return { ok: false, reason: 'replayed nonce' };
    this.seenNonces.add(nonce);
    if (this.seenNonces.size > 10_000) this.seenNonces.clear();
    return { ok: true };
  }
}

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

export class DigestChecker {
  /** Issued nonce → highest nonce count seen (replays and reordering are refused). */
  private readonly nonces = new Map<string, number>();
  readonly realm = 'tpgw-sim';
  private readonly opaque = randomBytes(8).toString('hex');

  constructor(
    private readonly username: string,
    private readonly password: string,
  ) {}

  /** A fresh WWW-Authenticate value. */
  challenge(stale = false): string {
    const nonce = randomBytes(16).toString('hex');
    this.nonces.set(nonce, 0);
    if (this.nonces.size > 1000) this.nonces.delete(this.nonces.keys().next().value as string);
    return `Digest realm="${this.realm}", qop="auth", nonce="${nonce}", opaque="${this.opaque}", algorithm=MD5${stale ? ', stale=TRUE' : ''}`;
  }

  check(authorization: string | undefined, method: string, requestUri: string): Verdict {
    if (!authorization) return { ok: false, reason: 'no Authorization' };
    let params: Record<string, string>;
    try {
      const ch = parseWwwAuthenticate(authorization)[0];
      if (!ch || ch.scheme !== 'digest') return { ok: false, reason: 'not Digest' };
      params = ch.params;
    } catch {
      return { ok: false, reason: 'malformed Authorization' };
    }
    const { username, realm, nonce, uri, response, qop, nc, cnonce } = params;
    if (!username || !nonce || !uri || !response) return { ok: false, reason: 'incomplete Digest' };
    if (realm !== this.realm) return { ok: false, reason: 'wrong realm' };
    if (uri !== requestUri) return { ok: false, reason: 'uri mismatch' };
    const last = this.nonces.get(nonce);
    if (last === undefined) return { ok: false, reason: 'unknown nonce' };
    if (qop !== 'auth' || !nc || !cnonce) return { ok: false, reason: 'qop=auth required' };
    const count = parseInt(nc, 16);
    if (!(count > last)) return { ok: false, reason: 'nonce count replayed' };
    if (username !== this.username) return { ok: false, reason: 'unknown user' };
    const ha1 = md5(`${this.username}:${this.realm}:${this.password}`);
    const ha2 = md5(`${method}:${uri}`);
    const expected = md5(`${ha1}:${nonce}:${nc}:${cnonce}:${qop}:${ha2}`);
    if (!safeEqual(response.toLowerCase(), expected)) return { ok: false, reason: 'wrong response' };
    this.nonces.set(nonce, count);
    return { ok: true };
  }
}

export function checkBasic(authorization: string | undefined, username: string, password: string): Verdict {
  if (!authorization?.startsWith('Basic ')) return { ok: false, reason: 'no Basic' };
  const decoded = Buffer.from(authorization.slice(6), 'base64').toString();
  return safeEqual(decoded, `${username}:${password}`) ? { ok: true } : { ok: false, reason: 'wrong password' };
}
