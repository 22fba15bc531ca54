// One driver instance per configured clock, chosen by `driver`.
import type { ClockConfig } from '../config/clocks.js';
import type { ClockDriver, PunchSink } from '../drivers/types.js';
import { LineClockDriver } from '../drivers/line/line-driver.js';
import { R30xDriver } from '../drivers/r30x/r30x-driver.js';
import { HidWedgeDriver, type HidWedgeDriverOptions } from '../drivers/hid/hid-wedge-driver.js';
import { ZkDriver } from '../drivers/zk/zk-driver.js';
import type { Logger } from './logger.js';

export interface DriverContext {
  logger: Logger;
  isClockSynced: () => boolean;
  /** True when every record with these dedupe keys is stored and settled at the center. */
  isSettled: (dedupeKeys: string[]) => boolean;
  /** Opens a HID wedge reader (tests feed recorded reports through it); default node-hid. */
  hidOpen?: HidWedgeDriverOptions['open'];
}

export function createClockDriver(cfg: ClockConfig, sink: PunchSink, ctx: DriverContext): ClockDriver {
  const logger = ctx.logger.child({ clock: cfg.id, driver: cfg.driver });
  switch (cfg.driver) {
    case 'line':
      return new LineClockDriver(cfg, sink, { logger });
    case 'r30x':
      return new R30xDriver(cfg, sink, { logger });
    case 'hid-wedge':
      return new HidWedgeDriver(cfg, sink, { logger, open: ctx.hidOpen });
    case 'zk':
      return new ZkDriver(cfg, sink, { logger, isClockSynced: ctx.isClockSynced, isSettled: ctx.isSettled });
  }
}
