// Generates the boot-keyboard report sequence a USB keyboard-wedge reader sends for a code:
// press + release per character (or overlapping presses with rollover), optional report-ID prefix.
// Used by tests (fed through a fake HidSource, the same path node-hid's 'data' events take) and by
// demo mode.

export interface HidReportOptions {
  /** Prefix every report with this report ID (9-byte reports). */
  reportId?: number;
  /** Press the next key before releasing the previous one (n-key rollover typing). */
  rollover?: boolean;
  /** Key that ends the code (default enter). */
  terminator?: 'enter' | 'keypad-enter' | 'tab' | 'none';
  /** Send digits from the keypad (0x59..0x62) instead of the top row. */
  keypadDigits?: boolean;
  /** Which shift key to use for capitals and symbols (default left). */
  shift?: 'left' | 'right';
}

const SHIFTED_DIGITS = '!@#$%^&*()';
const PUNCT: Record<string, [number, boolean]> = {
  ' ': [0x2c, false], '-': [0x2d, false], _: [0x2d, true], '=': [0x2e, false], '+': [0x2e, true],
  '[': [0x2f, false], '{': [0x2f, true], ']': [0x30, false], '}': [0x30, true], '\\': [0x31, false],
  '|': [0x31, true], ';': [0x33, false], ':': [0x33, true], "'": [0x34, false], '"': [0x34, true],
  '`': [0x35, false], '~': [0x35, true], ',': [0x36, false], '<': [0x36, true], '.': [0x37, false],
  '>': [0x37, true], '/': [0x38, false], '?': [0x38, true],
};

export interface KeyPress {
  usage: number;
  shift: boolean;
}

export function keyFor(ch: string, keypadDigits = false): KeyPress {
  if (/^[a-z]$/.test(ch)) return { usage: 0x04 + ch.charCodeAt(0) - 0x61, shift: false };
  if (/^[A-Z]$/.test(ch)) return { usage: 0x04 + ch.charCodeAt(0) - 0x41, shift: true };
  if (/^[0-9]$/.test(ch)) {
    const i = ch === '0' ? 9 : Number(ch) - 1;
    return { usage: (keypadDigits ? 0x59 : 0x1e) + i, shift: false };
  }
  const s = SHIFTED_DIGITS.indexOf(ch);
  if (s >= 0) return { usage: 0x1e + s, shift: true };
  const p = PUNCT[ch];
  if (p) return { usage: p[0], shift: p[1] };
  throw new RangeError(`no boot-keyboard key for ${JSON.stringify(ch)}`);
}

const TERMINATORS = { enter: 0x28, 'keypad-enter': 0x58, tab: 0x2b } as const;

function report(modifier: number, keys: number[], reportId?: number): Buffer {
  const body = Buffer.alloc(8);
  body[0] = modifier;
  keys.slice(0, 6).forEach((k, i) => (body[2 + i] = k));
  return reportId === undefined ? body : Buffer.concat([Buffer.from([reportId]), body]);
}

/** The reports for `code` followed by the terminator key. */
export function reportsFor(code: string, opts: HidReportOptions = {}): Buffer[] {
  const shiftBit = opts.shift === 'right' ? 0x20 : 0x02;
  const presses = [...code].map((c) => keyFor(c, opts.keypadDigits));
  const term = opts.terminator ?? 'enter';
  if (term !== 'none') presses.push({ usage: TERMINATORS[term], shift: false });
  const out: Buffer[] = [];
  let held: KeyPress | null = null;
  for (const key of presses) {
    const mod = key.shift ? shiftBit : 0;
    if (opts.rollover && held && held.usage !== key.usage) {
      out.push(report(mod, [held.usage, key.usage], opts.reportId)); // both down
    } else {
      if (held) out.push(report(0, [], opts.reportId));
      out.push(report(mod, [key.usage], opts.reportId));
    }
    held = key;
    if (!opts.rollover) {
      out.push(report(0, [], opts.reportId));
      held = null;
    } else {
      out.push(report(mod, [key.usage], opts.reportId)); // previous released, this one still down
    }
  }
  if (held) out.push(report(0, [], opts.reportId));
  return out;
}
