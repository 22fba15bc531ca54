// The plain `line` preset: CR/LF lines in the default USER[,YYYY-MM-DD HH:mm:ss[,VERIFY]] format
// or the configured pattern.
import { LineFormat, type LineFormatOptions } from '../line-format.js';
import { LineFramer } from '../line-framer.js';
import type { LinePreset } from './types.js';

/** Throws LineConfigError for a bad pattern or zone. */
export function defaultLinesPreset(opts: LineFormatOptions & { repeatSuppressMs?: number } = {}): LinePreset {
  const format = new LineFormat(opts);
  return {
    name: 'default',
    framer: new LineFramer(),
    decode: (text) => format.parse(text),
    repeatSuppressMs: opts.repeatSuppressMs ?? 0,
  };
}
