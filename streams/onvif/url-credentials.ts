// Credentials in camera URLs: put them in for ffmpeg, take them out for everything a human or
// the center can see (logs, status, events, error messages). Free text (ffmpeg stderr, error
// messages quoting URLs) goes through ../ffmpeg/redact.ts redactCredentials(); this file is the
// URL-shaped side: injection for ffmpeg and a redacted URL for status/logs.
import { redactCredentials } from '../ffmpeg/redact.js';

/** Query parameters some cameras use to carry credentials (e.g. `?user=admin&password=x`). */
const SECRET_PARAMS = /^(pass(word|wd)?|pwd|token|auth|key|secret|sig(nature)?)$/i;

/**
 * Returns the URL with the userinfo removed and secret-looking query values masked. Strings that
 * do not parse as URLs go through redactCredentials() so nothing credential-shaped survives.
 */
export function redactUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return redactCredentials(url);
  }
  u.username = '';
  u.password = '';
  for (const key of [...u.searchParams.keys()]) {
    if (SECRET_PARAMS.test(key)) u.searchParams.set(key, '***');
  }
  return u.toString();
}

/**
 * Puts username/password into a URL's userinfo, percent-encoded so characters like `@ : / %`
 * in a password survive (ffmpeg percent-decodes userinfo). An existing userinfo is kept unless
 * `replace` is set. Without a username the URL is returned unchanged.
 */
export function withCredentials(
  url: string,
  username: string | undefined,
  password: string | undefined,
  opts: { replace?: boolean } = {},
): string {
  if (!username) return url;
  const u = new URL(url);
  if ((u.username || u.password) && !opts.replace) return url;
  // The URL setters leave `%` alone, so encode first: then the value round-trips exactly.
  u.username = encodeURIComponent(username);
  u.password = password ? encodeURIComponent(password) : '';
  return u.toString();
}

/** True when the URL carries a userinfo part. */
export function hasCredentials(url: string): boolean {
  try {
    const u = new URL(url);
    return Boolean(u.username || u.password);
  } catch {
    return /:\/\/[^\s/@]*@/.test(url);
  }
}
