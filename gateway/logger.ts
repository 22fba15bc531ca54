// JSON logs with pino. Secrets are redacted by path as a second line of defence: code should
// never put a password into a log record in the first place.
import { pino, type Logger } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'password',
  '*.password',
  '*.*.password',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'req.headers.authorization',
];

export function createLogger(level: string, opts: { name?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    {
      name: opts.name ?? 'tpgw',
      level,
      redact: { paths: REDACT_PATHS, censor: '***' },
      timestamp: pino.stdTimeFunctions.isoTime,
      base: { pid: process.pid },
    },
    (opts.destination as pino.DestinationStream | undefined) ?? pino.destination({ fd: 1, sync: true }),
  );
}
