// Server-side RTSP authentication for the simulated camera, as IP cameras do it: HTTP Digest
// (RFC 2617, MD5; the classic form without qop that most cameras challenge with, but a client's
// qop=auth answer is verified too) or Basic. Nonces are the server's own, so a nonce from an
// earlier run (or invented) is refused and the client re-authenticates.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export type RtspAuthScheme = 'digest' | 'basic';

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

/** `key=value` / `key="quoted"` pairs of an Authorization header after its scheme word. */
export function parseAuthParams(s: string): Map<string, string> {
  const params = new Map<string, string>();
  const re = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))/g;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    const value = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '');
    params.set(m[1].toLowerCase(), value);
  }
  return params;
}

export class RtspAuthenticator {
  readonly realm = 'tpgw-rtsp-sim';
  /** Issued nonces, oldest first; bounded so a client looping on 401 cannot grow it. */
  private readonly nonces = new Set<string>();

  constructor(
    private readonly username: string,
    private readonly password: string,
    readonly scheme: RtspAuthScheme,
  ) {}

  /** The WWW-Authenticate value for a 401. */
  challenge(): string {
    if (this.scheme === 'basic') return `Basic realm="${this.realm}"`;
    const nonce = randomBytes(16).toString('hex');
    this.nonces.add(nonce);
    if (this.nonces.size > 256) this.nonces.delete(this.nonces.values().next().value as string);
    return `Digest realm="${this.realm}", nonce="${nonce}", algorithm=MD5`;
  }

  /** Does this Authorization header (for a request with this method) carry valid credentials? */
  check(method: string, authorization: string | undefined): boolean {
    if (!authorization) return false;
    const space = authorization.indexOf(' ');
    if (space < 0) return false;
    const scheme = authorization.slice(0, space).toLowerCase();
    const rest = authorization.slice(space + 1).trim();
    if (this.scheme === 'basic') {
      if (scheme !== 'basic') return false;
      const decoded = Buffer.from(rest, 'base64').toString('utf8');
      return safeEqual(decoded, `${this.username}:${this.password}`);
    }
    if (scheme !== 'digest') return false;
    const p = parseAuthParams(rest);
    const nonce = p.get('nonce');
    const uri = p.get('uri');
    const response = p.get('response');
    if (!nonce || uri === undefined || !response) return false;
    if (p.get('username') !== this.username || p.get('realm') !== this.realm) return false;
    if (!this.nonces.has(nonce)) return false;
    const algorithm = p.get('algorithm');
    if (algorithm !== undefined && algorithm.toUpperCase() !== 'MD5') return false;
    const ha1 = md5(`${this.username}:${this.realm}:${this.password}`);
    const ha2 = md5(`${method}:${uri}`);
    const qop = p.get('qop');
    let expected: string;
    if (qop === undefined) {
      expected = md5(`${ha1}:${nonce}:${ha2}`);
    } else if (qop === 'auth') {
      const nc = p.get('nc');
      const cnonce = p.get('cnonce');
      if (!nc || !cnonce) return false;
      expected = md5(`${ha1}:${nonce}:${nc}:${cnonce}:${qop}:${ha2}`);
    } else {
      return false;
    }
    return safeEqual(response.toLowerCase(), expected);
  }
}
