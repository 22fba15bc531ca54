// Virtual-COM card readers (Wiegand-to-USB converters and the like): one card id per line,
// `ID\r\n`, in decimal or hex. The id is kept exactly as sent (leading zeros matter to rosters).
import type { VerifyMethod } from '../../../config/clocks.js';
import { LineFramer } from '../line-framer.js';
import type { DecodeResult, LinePreset } from './types.js';

export const WIEGAND_DEFAULT_REPEAT_MS = 2000;

const CARD_ID_RE = /^[0-9A-Fa-f]{1,32}$/;

export function decodeWiegandLine(text: string, verify: VerifyMethod = 'card'): DecodeResult {
  const id = text.trim();
  if (!CARD_ID_RE.test(id)) return { ok: false, reason: `card id "${id.slice(0, 64)}" is not 1-32 decimal or hex digits` };
  return { ok: true, value: { user: id, verify } };
}

export function wiegandAsciiPreset(opts: { verify?: VerifyMethod; repeatSuppressMs?: number } = {}): LinePreset {
  const verify = opts.verify ?? 'card';
  return {
    name: 'wiegand-ascii',
    // Card ids are short; a long "line" is noise.
    framer: new LineFramer({ maxLineBytes: 128 }),
    decode: (text) => decodeWiegandLine(text, verify),
    repeatSuppressMs: opts.repeatSuppressMs ?? WIEGAND_DEFAULT_REPEAT_MS,
  };
}
