// Decodes USB HID boot-keyboard input reports into key strokes (US layout, which is what card and
// barcode wedges emit). A report is 8 bytes: modifier bits, reserved, 6 usage slots holding the
// keys currently held. Some readers prefix a report ID (9 bytes). A key produces a character only
// when it is NEWLY pressed compared with the previous report: "11" arrives as press, release, press,
// and a key held across reports (rollover) does not repeat.

export type KeyStroke = { kind: 'char'; char: string } | { kind: 'terminator'; key: 'enter' | 'keypad-enter' | 'tab' };

export interface BootKeyboardOptions {
  /**
   * 'auto' (default): 8-byte reports carry no ID, 9-byte reports start with one.
   * A number: every report must be 9 bytes starting with this ID. null: 8-byte reports only.
   */
  reportId?: 'auto' | number | null;
}

export type DecodeResult = { ok: true; strokes: KeyStroke[] } | { ok: false; reason: string };

const LEFT_SHIFT = 0x02;
const RIGHT_SHIFT = 0x20;
const ERROR_ROLLOVER = 0x01;

const TOP_ROW = '1234567890';
const TOP_ROW_SHIFTED = '!@#$%^&*()';
// Usages 0x2C..0x38 (0x32 is the non-US hash key, mapped like 0x31 on US layouts' absence: skipped).
const PUNCT: Record<number, [string, string]> = {
  0x2c: [' ', ' '],
  0x2d: ['-', '_'],
  0x2e: ['=', '+'],
  0x2f: ['[', '{'],
  0x30: [']', '}'],
  0x31: ['\\', '|'],
  0x33: [';', ':'],
  0x34: ["'", '"'],
  0x35: ['`', '~'],
  0x36: [',', '<'],
  0x37: ['.', '>'],
  0x38: ['/', '?'],
};
const KEYPAD: Record<number, string> = { 0x54: '/', 0x55: '*', 0x56: '-', 0x57: '+', 0x63: '.' };

/** The stroke for one newly pressed usage, or null for keys that carry no character. */
export function usageToStroke(usage: number, shift: boolean): KeyStroke | null {
  if (usage >= 0x04 && usage <= 0x1d) {
    const c = String.fromCharCode(0x61 + usage - 0x04);
    return { kind: 'char', char: shift ? c.toUpperCase() : c };
  }
  if (usage >= 0x1e && usage <= 0x27) return { kind: 'char', char: (shift ? TOP_ROW_SHIFTED : TOP_ROW)[usage - 0x1e] };
  if (usage >= 0x59 && usage <= 0x62) return { kind: 'char', char: TOP_ROW[usage - 0x59] };
  if (usage === 0x28) return { kind: 'terminator', key: 'enter' };
  if (usage === 0x58) return { kind: 'terminator', key: 'keypad-enter' };
  if (usage === 0x2b) return { kind: 'terminator', key: 'tab' };
  const p = PUNCT[usage];
  if (p) return { kind: 'char', char: p[shift ? 1 : 0] };
  const k = KEYPAD[usage];
  if (k) return { kind: 'char', char: k };
  return null;
}

export class BootKeyboardDecoder {
  private held = new Set<number>();
  private readonly reportId: 'auto' | number | null;

  constructor(opts: BootKeyboardOptions = {}) {
    this.reportId = opts.reportId === undefined ? 'auto' : opts.reportId;
  }

  /** Forget held keys (after a reconnect the first report must not be compared with stale state). */
  reset(): void {
    this.held = new Set();
  }

  decode(report: Uint8Array): DecodeResult {
    const body = this.body(report);
    if (typeof body === 'string') return { ok: false, reason: body };
    const modifier = body[0];
    const slots = body.subarray(2, 8);
    // Error rollover: too many keys at once, the key state is unknown. Keep the previous state.
    if (slots.every((u) => u === ERROR_ROLLOVER)) return { ok: true, strokes: [] };
    const shift = (modifier & (LEFT_SHIFT | RIGHT_SHIFT)) !== 0;
    const now = new Set<number>();
    const strokes: KeyStroke[] = [];
    for (const usage of slots) {
      if (usage < 0x04 || now.has(usage)) continue; // 0 = empty, 1..3 = error codes
      now.add(usage);
      if (this.held.has(usage)) continue;
      const stroke = usageToStroke(usage, shift);
      if (stroke) strokes.push(stroke);
    }
    this.held = now;
    return { ok: true, strokes };
  }

  private body(report: Uint8Array): Uint8Array | string {
    const r = Buffer.from(report.buffer, report.byteOffset, report.byteLength);
    if (this.reportId === null) return r.length === 8 ? r : `expected an 8-byte report, got ${r.length} bytes`;
    if (typeof this.reportId === 'number') {
      if (r.length !== 9) return `expected a 9-byte report with ID ${this.reportId}, got ${r.length} bytes`;
      if (r[0] !== this.reportId) return `report ID ${r[0]} is not the keyboard report ID ${this.reportId}`;
      return r.subarray(1);
    }
    if (r.length === 8) return r;
    if (r.length === 9) return r.subarray(1);
    return `a boot keyboard report is 8 bytes (9 with a report ID), got ${r.length}`;
  }
}

export interface CodeAssemblerOptions {
  /** A code not terminated within this time after its last key is dropped. */
  interKeyTimeoutMs: number;
  /** The same code again within this window is one read (card held / double swipe); 0 = off. */
  repeatSuppressMs?: number;
  /** Codes longer than this are line noise, not a card (default 64). */
  maxLength?: number;
}

export type AssemblerOutput =
  | { kind: 'code'; code: string; terminator: string }
  | { kind: 'dropped'; partial: string; reason: 'timeout' | 'too-long' }
  | { kind: 'suppressed'; code: string };

/** Collects strokes into codes. Time is passed in (ms), so behaviour is exact and testable. */
export class CodeAssembler {
  private partial = '';
  private lastKeyAt = 0;
  private lastCode: { code: string; at: number } | null = null;
  private readonly maxLength: number;

  constructor(private readonly opts: CodeAssemblerOptions) {
    this.maxLength = opts.maxLength ?? 64;
  }

  get pending(): string {
    return this.partial;
  }

  push(stroke: KeyStroke, at: number): AssemblerOutput[] {
    const out = this.expire(at);
    if (stroke.kind === 'char') {
      this.partial += stroke.char;
      this.lastKeyAt = at;
      if (this.partial.length > this.maxLength) {
        out.push({ kind: 'dropped', partial: this.partial, reason: 'too-long' });
        this.partial = '';
      }
      return out;
    }
    if (!this.partial) return out; // a bare Enter/Tab is not a code
    const code = this.partial;
    this.partial = '';
    const suppress = this.opts.repeatSuppressMs ?? 0;
    if (suppress > 0 && this.lastCode && this.lastCode.code === code && at - this.lastCode.at < suppress) {
      out.push({ kind: 'suppressed', code });
    } else {
      out.push({ kind: 'code', code, terminator: stroke.key });
    }
    this.lastCode = { code, at };
    return out;
  }

  /** Drops the unfinished code if its last key is older than the inter-key timeout. */
  expire(at: number): AssemblerOutput[] {
    if (this.partial && at - this.lastKeyAt > this.opts.interKeyTimeoutMs) {
      const partial = this.partial;
      this.partial = '';
      return [{ kind: 'dropped', partial, reason: 'timeout' }];
    }
    return [];
  }
}
