// Credentials must never reach a log line, an event or a status: camera URLs carry them as
// rtsp://user:pass@host/..., and ffmpeg repeats the input URL in its own error messages.

const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@]*@/gi;

/** Replaces the user-info part of every URL in `text` with `***`. */
export function redactCredentials(text: string): string {
  return text.replace(USERINFO, '$1***@');
}

/** A command line fit for a log: arguments redacted and joined with spaces. */
export function redactCommand(binary: string, args: readonly string[]): string {
  return [binary, ...args].map(redactCredentials).join(' ');
}
