// One text line from a serial clock -> user, optional device time, verify method.
// Default format: USER[,YYYY-MM-DD HH:mm:ss[,VERIFY]]; a config `pattern` (regex with named groups
// user, time, verify) replaces it. A line that does not fit is rejected with a reason and never
// becomes a punch: inventing a punch from line noise pays someone who was not there.
import type { VerifyMethod } from '../../config/clocks.js';
import { assertTimeZone, invalidLocalFieldsReason, localToIso, type Zone } from '../time/zoned-time.js';

export interface ParsedLine {
  /** User id exactly as printed (trimmed of surrounding blanks only). */
  user: string;
  /** ISO-8601 with offset, when the line carried a time. */
  deviceTime?: string;
  verify: VerifyMethod;
}

export type LineParseResult = { ok: true; value: ParsedLine } | { ok: false; reason: string };

/** A `line` clock's settings cannot work (bad pattern, unknown zone). Raised at construction. */
export class LineConfigError extends Error {
  constructor(
    readonly key: 'pattern' | 'timezone',
    message: string,
  ) {
    super(`${key}: ${message}`);
    this.name = 'LineConfigError';
  }
}

export interface LineFormatOptions {
  /** Regex source with named groups `user` (required), `time`, `verify`. */
  pattern?: string;
  /** IANA zone of printed times; default the box's. */
  timezone?: string;
  /** Verify method when the line names none; default 'unknown'. */
  verify?: VerifyMethod;
}

// Words clocks print for the verify method. ZKTeco-style numeric codes are accepted too.
const VERIFY_WORDS: Record<string, VerifyMethod> = {
  fingerprint: 'fingerprint',
  fp: 'fingerprint',
  finger: 'fingerprint',
  card: 'card',
  rfid: 'card',
  ic: 'card',
  pin: 'pin',
  password: 'password',
  pwd: 'password',
  face: 'face',
  '0': 'password',
  '1': 'fingerprint',
  '2': 'card',
  '15': 'face',
};

/** Maps a printed verify word or code to a method; anything else is 'unknown' (not an error). */
export function parseVerifyWord(word: string): VerifyMethod {
  return VERIFY_WORDS[word.trim().toLowerCase()] ?? 'unknown';
}

const TIME_RE = /^(\d{4})-(\d{2})-(\d{2})[T ]+(\d{2}):(\d{2}):(\d{2})$/;

/** `YYYY-MM-DD HH:mm:ss` (or with T) in `timeZone` -> ISO with offset, or the reason it is not a time. */
export function parseDeviceTime(text: string, timeZone: Zone): { ok: true; iso: string } | { ok: false; reason: string } {
  const m = TIME_RE.exec(text.trim());
  if (!m) return { ok: false, reason: `time "${text}" is not YYYY-MM-DD HH:mm:ss` };
  const fields = { y: +m[1], mo: +m[2], d: +m[3], h: +m[4], mi: +m[5], s: +m[6] };
  const invalid = invalidLocalFieldsReason(fields);
  if (invalid) return { ok: false, reason: `time "${text}": ${invalid}` };
  return { ok: true, iso: localToIso(fields, timeZone) };
}

// Default-format user ids: printable ASCII without blanks or commas. Bytes from a wrong baud rate
// or a noisy line are mostly outside this set, so they are rejected instead of becoming punches.
const DEFAULT_USER_RE = /^[\x21-\x2B\x2D-\x7E]{1,64}$/;
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\x00-\x08\x0A-\x1F\x7F]/;

export class LineFormat {
  private readonly pattern: RegExp | null;
  /** The configured zone (checked at construction), or undefined for the box's. */
  private readonly zone: Zone;
  private readonly defaultVerify: VerifyMethod;

  /** Throws LineConfigError for a pattern that does not compile or lacks a `user` group, or an unknown zone. */
  constructor(opts: LineFormatOptions = {}) {
    this.pattern = opts.pattern === undefined ? null : compilePattern(opts.pattern);
    // A configured zone is checked now, so a typo is a start error. The box's own zone needs no
    // check, and is read through Date rather than Intl (see zoned-time.ts): ~8 MB less resident.
    try {
      this.zone = assertTimeZone(opts.timezone);
    } catch (err) {
      throw new LineConfigError('timezone', (err as Error).message);
    }
    this.defaultVerify = opts.verify ?? 'unknown';
  }

  /** Never throws: a line that does not fit yields `{ ok: false, reason }`. */
  parse(line: string): LineParseResult {
    const text = line.trim();
    if (text === '') return { ok: false, reason: 'empty line' };
    if (CONTROL_RE.test(text)) return { ok: false, reason: 'line contains control characters' };
    return this.pattern ? this.parseWithPattern(text, this.pattern) : this.parseDefault(text);
  }

  private parseDefault(text: string): LineParseResult {
    const fields = text.split(',').map((f) => f.trim());
    if (fields.length > 3) {
      return { ok: false, reason: `expected USER[,YYYY-MM-DD HH:mm:ss[,VERIFY]], got ${fields.length} fields` };
    }
    const [user, time, verify] = fields;
    if (!DEFAULT_USER_RE.test(user)) {
      return { ok: false, reason: `user "${user}" is not 1-64 printable ASCII characters without blanks or commas` };
    }
    return this.build(user, time, verify);
  }

  private parseWithPattern(text: string, pattern: RegExp): LineParseResult {
    let m: RegExpExecArray | null;
    try {
      m = pattern.exec(text);
    } catch (err) {
      return { ok: false, reason: `pattern failed: ${(err as Error).message}` };
    }
    if (!m) return { ok: false, reason: 'line does not match the configured pattern' };
    const user = m.groups?.user?.trim() ?? '';
    if (user === '') return { ok: false, reason: 'pattern matched but group "user" is empty' };
    return this.build(user, m.groups?.time, m.groups?.verify);
  }

  private build(user: string, time: string | undefined, verify: string | undefined): LineParseResult {
    const value: ParsedLine = { user, verify: verify ? parseVerifyWord(verify) : this.defaultVerify };
    if (time !== undefined && time.trim() !== '') {
      const parsed = parseDeviceTime(time, this.zone);
      if (!parsed.ok) return parsed;
      value.deviceTime = parsed.iso;
    }
    return { ok: true, value };
  }
}

function compilePattern(source: string): RegExp {
  let re: RegExp;
  try {
    re = new RegExp(source);
  } catch (err) {
    throw new LineConfigError('pattern', `not a valid regular expression: ${(err as Error).message}`);
  }
  // An alternation with the empty string matches '' and reports every named group of the pattern.
  const groups = new RegExp(`(?:${source})|`).exec('')?.groups ?? {};
  if (!('user' in groups)) throw new LineConfigError('pattern', 'must have a named group (?<user>...)');
  return re;
}
