// A bounded HTTP(S) GET that answers Digest (preferred) or Basic challenges: how snapshot URIs
// are fetched. Uses node:http rather than fetch because a camera may send several
// WWW-Authenticate headers (MD5 and SHA-256) and fetch joins them with commas.
import http from 'node:http';
import https from 'node:https';
import { DigestAuthError, DigestSession, parseWwwAuthenticate, pickDigestChallenge } from './digest-auth.js';
import { redactUrl } from './url-credentials.js';

export class HttpAuthError extends Error {
  override name = 'HttpAuthError';
}

export class HttpFetchError extends Error {
  override name = 'HttpFetchError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface AuthenticatedGetOptions {
  username?: string;
  password?: string;
  /** Whole request including the auth round trip. Default 10 s. */
  timeoutMs?: number;
  /** Larger bodies are aborted with an error. Default 16 MiB. */
  maxBytes?: number;
  /** Reuse Digest state across calls to the same server (saves the 401 round trip). */
  session?: DigestSession;
  signal?: AbortSignal;
}

export interface GetResult {
  status: number;
  contentType: string | undefined;
  body: Buffer;
}

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  wwwAuthenticate: string[];
  body: Buffer;
}

function requestOnce(
  url: URL,
  headers: Record<string, string>,
  maxBytes: number,
  deadline: number,
  signal?: AbortSignal,
): Promise<RawResponse> {
  return new Promise((resolveOnce, rejectOnce) => {
    let settled = false;
    const resolve = (r: RawResponse) => {
      if (!settled) (settled = true), resolveOnce(r);
    };
    const reject = (e: unknown) => {
      if (!settled) (settled = true), rejectOnce(e);
    };
    const lib = url.protocol === 'https:' ? https : http;
    const remaining = Math.max(1, deadline - Date.now());
    const req = lib.request(
      url,
      { method: 'GET', headers, signal, rejectUnauthorized: false /* cameras ship self-signed certs */ },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > maxBytes) {
            reject(new HttpFetchError(`response from ${redactUrl(url.href)} larger than ${maxBytes} bytes`));
            res.destroy();
            req.destroy();
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => {
          const raw = res.rawHeaders;
          const wwwAuthenticate: string[] = [];
          for (let k = 0; k + 1 < raw.length; k += 2) {
            if (raw[k].toLowerCase() === 'www-authenticate') wwwAuthenticate.push(raw[k + 1]);
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, wwwAuthenticate, body: Buffer.concat(chunks) });
        });
        res.on('error', (err) => reject(new HttpFetchError(`${redactUrl(url.href)}: ${err.message}`)));
      },
    );
    const timer = setTimeout(() => {
      reject(new HttpFetchError(`timeout fetching ${redactUrl(url.href)}`));
      req.destroy();
    }, remaining);
    req.on('close', () => clearTimeout(timer));
    req.on('error', (err) => reject(err instanceof HttpFetchError ? err : new HttpFetchError(`${redactUrl(url.href)}: ${err.message}`)));
    req.end();
  });
}

/**
 * GET `url`, answering one authentication challenge (two when the server says the nonce was
 * stale). Credentials embedded in the URL are used when no username is given. Wrong credentials
 * give an HttpAuthError; a non-2xx status an HttpFetchError; bodies over maxBytes are aborted.
 */
export async function authenticatedGet(urlString: string, opts: AuthenticatedGetOptions = {}): Promise<GetResult> {
  const url = new URL(urlString);
  let username = opts.username;
  let password = opts.password;
  if (username === undefined && url.username) {
    username = decodeURIComponent(url.username);
    password = decodeURIComponent(url.password);
  }
  url.username = '';
  url.password = '';
  const maxBytes = opts.maxBytes ?? 16 * 1024 * 1024;
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  const target = url.pathname + url.search;
  const session = username !== undefined ? (opts.session ?? new DigestSession(username, password ?? '')) : null;
  const safe = redactUrl(url.href);

  let authorization = session?.authorize('GET', target) ?? null;
  let attempts = 0;
  for (;;) {
    attempts++;
    const headers: Record<string, string> = { Accept: 'image/jpeg, */*', 'User-Agent': 'tpgw' };
    if (authorization) headers.Authorization = authorization;
    const res = await requestOnce(url, headers, maxBytes, deadline, opts.signal);
    if (res.status >= 200 && res.status < 300) {
      return { status: res.status, contentType: res.headers['content-type'], body: res.body };
    }
    if (res.status !== 401) throw new HttpFetchError(`${safe}: HTTP ${res.status}`, res.status);
    if (!session || username === undefined) {
      throw new HttpAuthError(`${safe}: HTTP 401, the camera wants credentials and none are configured`);
    }
    let digest;
    try {
      digest = pickDigestChallenge(res.wwwAuthenticate);
    } catch (err) {
      throw new HttpAuthError(`${safe}: cannot answer the camera's challenge: ${(err as DigestAuthError).message}`);
    }
    const sentDigest = authorization?.startsWith('Digest ') ?? false;
    // A stale nonce means the credentials were right; a fresh challenge after we answered one
    // (or a third attempt) means they were wrong.
    if (attempts >= 3 || (sentDigest && !(digest?.stale ?? false) && attempts > 1) || (authorization?.startsWith('Basic ') ?? false)) {
      throw new HttpAuthError(`${safe}: authentication failed (HTTP 401): wrong username or password`);
    }
    if (digest) {
      session.accept(digest);
      authorization = session.authorize('GET', target);
      continue;
    }
    const challenges = parseWwwAuthenticate(res.wwwAuthenticate);
    if (challenges.some((c) => c.scheme === 'basic')) {
      authorization = `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}`;
      continue;
    }
    throw new HttpAuthError(`${safe}: HTTP 401 without a Digest or Basic challenge`);
  }
}
