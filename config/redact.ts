// A copy of the config safe to log, serve on /api and publish in tpgw/G/info: passwords,
// tokens and secret keys become "***", and credentials inside URLs (mqtts://user:pw@host,
// rtsp://admin:pw@camera/...) keep the user but lose the password.
export const REDACTED = '***';

/** Keys whose value is a secret wherever they appear (compared case-insensitively). */
const SECRET_KEY = /(password|passwd|passphrase|secret|token|commkey|apikey|privatekey)$/i;

/**
 * `key` (center.mqtt.key) is the *path* of the TLS private key: useful in a log when the file is
 * missing and not a secret. PEM text pasted inline instead of a path is redacted.
 */
const INLINE_PEM = /-----BEGIN [A-Z ]*-----/;

/** Query parameters that carry credentials in camera and broker URLs. */
const SECRET_PARAM = /^(password|passwd|pwd|pass|token|access_token|auth|key|apikey|api_key|secret|signature|sig)$/i;

/** JSON-shaped copy; secret values (strings or numbers such as zk commKey) become "***". */
export type RedactedConfig = Record<string, unknown>;

export function redactConfig(config: unknown): RedactedConfig {
  const out = redactValue(config, undefined);
  return out !== null && typeof out === 'object' && !Array.isArray(out) ? (out as RedactedConfig) : {};
}

function redactValue(value: unknown, key: string | undefined): unknown {
  if (key !== undefined && SECRET_KEY.test(key) && value !== undefined && value !== null && value !== '') {
    // commKey 0 means "no key" on ZKTeco terminals; still hidden, so "***" never tells which.
    return REDACTED;
  }
  if (typeof value === 'string') {
    if (INLINE_PEM.test(value)) return REDACTED;
    return looksLikeUrl(value) ? redactUrl(value) : value;
  }
  if (Array.isArray(value)) return value.map((v) => redactValue(v, undefined));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redactValue(v, k);
    return out;
  }
  return value;
}

const looksLikeUrl = (s: string) => /^[a-z][a-z0-9+.-]*:\/\//i.test(s);

/** Hides the password part of a URL's user-info and secret query parameters. */
export function redactUrl(url: string): string {
  // Done on the text rather than with `new URL`, which would normalise (and so change) the
  // URL and does not parse every scheme cameras use the same way.
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/is.exec(url);
  if (!m) return url;
  const [, scheme, authority, rest] = m;
  let auth = authority;
  const at = authority.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = authority.slice(0, at);
    const colon = userinfo.indexOf(':');
    auth = `${colon >= 0 ? `${userinfo.slice(0, colon)}:${REDACTED}` : userinfo}@${authority.slice(at + 1)}`;
  }
  const tail = rest.replace(/([?&;])([^=&;#]+)=([^&;#]*)/g, (whole, sep: string, name: string) =>
    SECRET_PARAM.test(decodeSafe(name)) ? `${sep}${name}=${REDACTED}` : whole,
  );
  return `${scheme}${auth}${tail}`;
}

function decodeSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
