// Picks the preset a `line` clock's config names.
import type { LineClockConfig } from '../../../config/clocks.js';
import { defaultLinesPreset } from './default-lines.js';
import { rdm6300Preset } from './rdm6300.js';
import type { LinePreset } from './types.js';
import { wiegandAsciiPreset } from './wiegand-ascii.js';

type PresetConfig = Pick<LineClockConfig, 'pattern' | 'timezone' | 'verify' | 'repeatSuppressMs'> & {
  preset?: LineClockConfig['preset'];
};

/** Throws LineConfigError when the config cannot work (bad pattern or zone). */
export function createLinePreset(cfg: PresetConfig): LinePreset {
  const common = { verify: cfg.verify, repeatSuppressMs: cfg.repeatSuppressMs };
  switch (cfg.preset ?? 'default') {
    case 'rdm6300':
      return rdm6300Preset(common);
    case 'wiegand-ascii':
      return wiegandAsciiPreset(common);
    case 'default':
      return defaultLinesPreset({ ...common, pattern: cfg.pattern, timezone: cfg.timezone });
  }
}
