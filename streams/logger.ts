// The logging surface streams/ needs: a subset of pino's, so gateway/ passes its pino logger
// (or a child of it) and tests pass nothing.

export interface StreamsLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLogger: StreamsLogger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
