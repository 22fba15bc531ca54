// The logging surface drivers/ needs. pino's Logger satisfies it; tests pass nothing and get the
// silent one. Kept minimal so drivers/ never depends on how gateway/ configures logging.
export interface DriverLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const noop = (): void => {};
export const silentLogger: DriverLogger = { debug: noop, info: noop, warn: noop, error: noop };
