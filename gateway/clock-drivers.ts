// One driver instance per configured clock, chosen by `driver`. Drivers are imported only when
// a clock uses them: a box with one serial clock does not pay the memory of the other three.
import type { ClockConfig } from '../config/clocks.js';
import type { ClockDriver, PunchSink } from '../drivers/types.js';
import type { HidWedgeDriverOptions } from '../drivers/hid/hid-wedge-driver.js';
import type { Logger } from './logger.js';

export interface DriverContext {
  logger: Logger;
  isClockSynced: () => boolean;
  /** True when every record with these dedupe keys is stored and settled at the center. */
  isSettled: (dedupeKeys: string[]) => boolean;
  /** Opens a HID wedge reader (tests feed recorded reports through it); default node-hid. */
  hidOpen?: HidWedgeDriverOptions['open'];
}

export async function createClockDriver(cfg: ClockConfig, sink: PunchSink, ctx: DriverContext): Promise<ClockDriver> {
  const logger = ctx.logger.child({ clock: cfg.id, driver: cfg.driver });
  switch (cfg.driver) {
    case 'line': {
      const { LineClockDriver } = await import('../drivers/line/line-driver.js');
      return new LineClockDriver(cfg, sink, { logger });
    }
    case 'r30x': {
      const { R30xDriver } = await import('../drivers/r30x/r30x-driver.js');
      return new R30xDriver(cfg, sink, { logger });
    }
    case 'hid-wedge': {
      const { HidWedgeDriver } = await import('../drivers/hid/hid-wedge-driver.js');
      return new HidWedgeDriver(cfg, sink, { logger, open: ctx.hidOpen });
    }
    case 'zk': {
      const { ZkDriver } = await import('../drivers/zk/zk-driver.js');
      return new ZkDriver(cfg, sink, { logger, isClockSynced: ctx.isClockSynced, isSettled: ctx.isSettled });
    }
  }
}
