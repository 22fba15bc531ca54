// A `line` preset: how bytes become frames and frames become punch fields.
import type { VerifyMethod } from '../../../config/clocks.js';
import type { Framer } from '../framer.js';

export interface DecodedPunch {
  user: string;
  verify: VerifyMethod;
  /** ISO-8601 with offset, when the frame carried a time. */
  deviceTime?: string;
  extra?: Record<string, unknown>;
}

export type DecodeResult = { ok: true; value: DecodedPunch } | { ok: false; reason: string };

export interface LinePreset {
  readonly name: 'default' | 'rdm6300' | 'wiegand-ascii';
  readonly framer: Framer;
  /** Frame text -> punch fields, or why it is not a punch. Never throws. */
  decode(text: string): DecodeResult;
  /** Same user again within this window is the same punch (0 = never suppress). */
  readonly repeatSuppressMs: number;
}
