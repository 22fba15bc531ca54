// Attendance records as ZK terminals store and send them, and the two time notations they use.
//
// Downloaded log (CMD_PREPARE_BUFFER for CMD_ATTLOG_RRQ): uint32 LE byte count of the records,
// then fixed-size records, whose size depends on the firmware:
//   8  bytes  uid u16 | verify u8 | packed time u32 | state u8                (old B/W firmware)
//   16 bytes  user id u32 | packed time u32 | verify u8 | state u8 | 2 reserved | workcode u32
//   40 bytes  uid u16 | user id char[24] | verify u8 | packed time u32 | state u8 | 8 reserved
//   49 bytes  the 40-byte layout + workcode u32 + 5 reserved (newer firmware, e.g. SpeedFace)
// Realtime EF_ATTLOG event data: user id (u16, u32 or char[24]) | verify u8 | state u8 | 6-byte
// time (year-2000, month, day, hour, minute, second) | optional reserved bytes.
//
// User ids are NUL-terminated strings inside their field: everything before the first NUL is kept
// (popular libraries cut them to 9 characters, which merges different people).
import type { VerifyMethod } from '../../config/clocks.js';
import { invalidLocalFieldsReason, type LocalFields } from '../time/zoned-time.js';

export type RecordSize = 8 | 16 | 40 | 49;
export const RECORD_SIZES: readonly RecordSize[] = [8, 16, 40, 49];
export const USER_ID_FIELD = 24;

export interface AttRecord {
  /** Internal user serial number on the device, when the layout carries one. */
  uid?: number;
  /** User id as the device stores it (for numeric layouts, the number in decimal). */
  user: string;
  /** Verify type code (0 password, 1 fingerprint, 2 card, 15 face, ...). */
  verifyCode: number;
  /** Attendance state code (0 check-in, 1 check-out, ...). */
  state: number;
  time: LocalFields;
  workcode?: number;
  /** The record bytes exactly as received. */
  raw: Buffer;
}

// ---- packed time -------------------------------------------------------------------------------

/** Decodes the packed uint32: ((((y%100)*12 + mo-1)*31 + d-1)*24 + h)*60 + mi)*60 + s, year 2000+. */
export function decodePackedTime(t: number): LocalFields {
  let v = t >>> 0;
  const s = v % 60;
  v = Math.floor(v / 60);
  const mi = v % 60;
  v = Math.floor(v / 60);
  const h = v % 24;
  v = Math.floor(v / 24);
  const d = (v % 31) + 1;
  v = Math.floor(v / 31);
  const mo = (v % 12) + 1;
  v = Math.floor(v / 12);
  return { y: 2000 + v, mo, d, h, mi, s };
}

/** Encodes local parts into the packed uint32 (years 2000-2099; the format keeps only y % 100). */
export function encodePackedTime(p: LocalFields): number {
  return (((p.y % 100) * 12 * 31 + (p.mo - 1) * 31 + (p.d - 1)) * 86400 + (p.h * 60 + p.mi) * 60 + p.s) >>> 0;
}

/** The realtime 6-byte time: year-2000, month, day, hour, minute, second. */
export function decodeTimeHex(b: Uint8Array, off = 0): LocalFields {
  return { y: 2000 + b[off], mo: b[off + 1], d: b[off + 2], h: b[off + 3], mi: b[off + 4], s: b[off + 5] };
}

export function encodeTimeHex(p: LocalFields): Buffer {
  return Buffer.from([p.y - 2000, p.mo, p.d, p.h, p.mi, p.s]);
}

/** True when the parts name a real calendar second (the packed format allows 31 February). */
export function isValidLocal(p: LocalFields): boolean {
  return invalidLocalFieldsReason(p) === null;
}

// ---- user id strings ---------------------------------------------------------------------------

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Bytes before the first NUL; UTF-8 when valid, otherwise Latin-1 (byte-for-byte, reversible). */
export function decodeUserId(field: Uint8Array): string {
  let end = field.indexOf(0);
  if (end < 0) end = field.length;
  const bytes = field.subarray(0, end);
  try {
    return utf8.decode(bytes);
  } catch {
    return Buffer.from(bytes).toString('latin1');
  }
}

/** A user id in a NUL-padded field; throws when it does not fit (never truncates). */
export function encodeUserId(user: string, width = USER_ID_FIELD): Buffer {
  const bytes = Buffer.from(user, 'utf8');
  if (bytes.length > width) throw new RangeError(`user id "${user}" is longer than ${width} bytes`);
  const out = Buffer.alloc(width);
  bytes.copy(out);
  return out;
}

// ---- verify codes ------------------------------------------------------------------------------

/** Maps a ZK verify type code onto tpgw's enum; the code itself travels in `extra.verifyCode`. */
export function verifyFromZk(code: number): VerifyMethod {
  switch (code) {
    case 0:
      return 'password';
    case 1:
      return 'fingerprint';
    case 2:
      return 'card';
    case 3: // "PW" in the verify-style table
      return 'password';
    case 4: // "RF"
      return 'card';
    case 15:
      return 'face';
    default:
      return 'unknown';
  }
}

export function verifyToZk(v: VerifyMethod): number {
  switch (v) {
    case 'password':
    case 'pin':
      return 0;
    case 'fingerprint':
      return 1;
    case 'card':
      return 2;
    case 'face':
      return 15;
    default:
      return 255;
  }
}

// ---- downloaded records ------------------------------------------------------------------------

/** Decodes one record of the given size. `rec` must be exactly `size` bytes. */
export function decodeRecord(rec: Buffer, size: RecordSize): AttRecord {
  if (rec.length !== size) throw new RangeError(`record is ${rec.length} bytes, expected ${size}`);
  const raw = Buffer.from(rec);
  switch (size) {
    case 8: {
      const uid = rec.readUInt16LE(0);
      return { uid, user: String(uid), verifyCode: rec[2], time: decodePackedTime(rec.readUInt32LE(3)), state: rec[7], raw };
    }
    case 16:
      return {
        user: String(rec.readUInt32LE(0)),
        time: decodePackedTime(rec.readUInt32LE(4)),
        verifyCode: rec[8],
        state: rec[9],
        workcode: rec.readUInt32LE(12),
        raw,
      };
    case 40:
    case 49: {
      const r: AttRecord = {
        uid: rec.readUInt16LE(0),
        user: decodeUserId(rec.subarray(2, 2 + USER_ID_FIELD)),
        verifyCode: rec[26],
        time: decodePackedTime(rec.readUInt32LE(27)),
        state: rec[31],
        raw,
      };
      if (size === 49) r.workcode = rec.readUInt32LE(40);
      return r;
    }
  }
}

/** A record to encode (simulator, tests): everything but the received bytes. */
export type EncodableRecord = Omit<AttRecord, 'raw'>;

/** Encodes a record (used by the simulator and tests). Throws when the user id does not fit. */
export function encodeRecord(r: EncodableRecord, size: RecordSize): Buffer {
  const b = Buffer.alloc(size);
  const t = encodePackedTime(r.time);
  switch (size) {
    case 8: {
      const uid = r.uid ?? Number(r.user);
      if (!Number.isInteger(uid) || uid < 0 || uid > 0xffff) throw new RangeError(`8-byte records need a uid 0..65535, got "${r.user}"`);
      b.writeUInt16LE(uid, 0);
      b[2] = r.verifyCode;
      b.writeUInt32LE(t, 3);
      b[7] = r.state;
      return b;
    }
    case 16: {
      const id = Number(r.user);
      if (!/^\d+$/.test(r.user) || id > 0xffffffff) throw new RangeError(`16-byte records need a numeric user id, got "${r.user}"`);
      b.writeUInt32LE(id, 0);
      b.writeUInt32LE(t, 4);
      b[8] = r.verifyCode;
      b[9] = r.state;
      b.writeUInt32LE(r.workcode ?? 0, 12);
      return b;
    }
    case 40:
    case 49:
      b.writeUInt16LE((r.uid ?? 0) & 0xffff, 0);
      encodeUserId(r.user).copy(b, 2);
      b[26] = r.verifyCode;
      b.writeUInt32LE(t, 27);
      b[31] = r.state;
      if (size === 49) b.writeUInt32LE(r.workcode ?? 0, 40);
      return b;
  }
}

export class AttlogFormatError extends Error {
  override name = 'AttlogFormatError';
}

/**
 * Decodes a downloaded attendance buffer (uint32 byte count + records). `recordCount` is the count
 * the device reported (CMD_GET_FREE_SIZES); it picks the record size. Throws AttlogFormatError when
 * the buffer is shorter than it claims or no record size fits: a partial log is never returned.
 */
export function decodeAttlogBuffer(
  buf: Buffer,
  recordCount: number | readonly number[],
  preferredSize?: RecordSize,
): { records: AttRecord[]; recordSize: RecordSize | null } {
  if (buf.length < 4) throw new AttlogFormatError(`attendance buffer is ${buf.length} bytes, shorter than its size field`);
  const total = buf.readUInt32LE(0);
  if (total === 0) return { records: [], recordSize: null };
  if (buf.length < 4 + total) throw new AttlogFormatError(`attendance buffer holds ${buf.length - 4} bytes of ${total} announced`);
  const body = buf.subarray(4, 4 + total);
  const size = pickRecordSize(body, Array.isArray(recordCount) ? recordCount : [recordCount as number], preferredSize);
  if (!size) throw new AttlogFormatError(`cannot tell the record size of ${total} bytes of records`);
  const records: AttRecord[] = [];
  for (let off = 0; off < total; off += size) records.push(decodeRecord(body.subarray(off, off + size), size));
  return { records, recordSize: size };
}

function plausible(body: Buffer, size: RecordSize): boolean {
  if (body.length % size !== 0) return false;
  for (let off = 0; off < body.length; off += size) {
    const timeOff = size === 8 ? 3 : size === 16 ? 4 : 27;
    const t = decodePackedTime(body.readUInt32LE(off + timeOff));
    if (t.y > 2099 || !isValidLocal(t)) return false;
  }
  return true;
}

function pickRecordSize(body: Buffer, counts: readonly number[], preferred?: RecordSize): RecordSize | null {
  // The count from GET_FREE_SIZES settles it. When a punch landed between that request and the
  // download the caller passes the counts read before and after; if both fit different sizes the
  // size this terminal used before breaks the tie. Plausible-looking times alone never decide: a
  // wrong guess would invent punches, so without a confirming count the download is refused and
  // retried at the next poll.
  const candidates = new Set<RecordSize>();
  for (const n of counts) {
    if (n > 0 && body.length % n === 0) {
      const s = body.length / n;
      if ((RECORD_SIZES as readonly number[]).includes(s) && plausible(body, s as RecordSize)) candidates.add(s as RecordSize);
    }
  }
  if (candidates.size === 1) return [...candidates][0];
  if (preferred && (candidates.size === 0 || candidates.has(preferred)) && plausible(body, preferred)) return preferred;
  return null;
}

// ---- realtime events ---------------------------------------------------------------------------

/**
 * Decodes EF_ATTLOG event data. Terminals send one record per event, occasionally several
 * back to back; each length pyzk has seen is handled. Throws on a length it does not know.
 */
export function decodeRealtimeAttlog(data: Buffer): AttRecord[] {
  const out: AttRecord[] = [];
  let rest = data;
  while (rest.length > 0) {
    const n = rest.length;
    let used: number;
    let rec: AttRecord;
    if (n === 10 || n === 14) {
      used = n;
      rec = { uid: rest.readUInt16LE(0), user: String(rest.readUInt16LE(0)), verifyCode: rest[2], state: rest[3], time: decodeTimeHex(rest, 4), raw: Buffer.from(rest.subarray(0, used)) };
    } else if (n === 12) {
      used = 12;
      rec = { user: String(rest.readUInt32LE(0)), verifyCode: rest[4], state: rest[5], time: decodeTimeHex(rest, 6), raw: Buffer.from(rest.subarray(0, used)) };
    } else if (n === 32 || n === 36 || n === 37 || n >= 52) {
      // 24-byte id | verify | state | 6-byte time | 0, 4, 5 or 20 reserved bytes.
      used = n >= 52 ? 52 : n;
      rec = {
        user: decodeUserId(rest.subarray(0, USER_ID_FIELD)),
        verifyCode: rest[24],
        state: rest[25],
        time: decodeTimeHex(rest, 26),
        raw: Buffer.from(rest.subarray(0, used)),
      };
    } else {
      throw new RangeError(`unknown realtime attendance record length ${n}`);
    }
    out.push(rec);
    rest = rest.subarray(used);
  }
  return out;
}

export type RealtimeLayout = 12 | 32 | 36 | 37 | 52;

/** Encodes one realtime EF_ATTLOG record (simulator). */
export function encodeRealtimeAttlog(r: EncodableRecord, layout: RealtimeLayout = 36): Buffer {
  if (layout === 12) {
    const b = Buffer.alloc(12);
    b.writeUInt32LE(Number(r.user), 0);
    b[4] = r.verifyCode;
    b[5] = r.state;
    encodeTimeHex(r.time).copy(b, 6);
    return b;
  }
  const b = Buffer.alloc(layout);
  encodeUserId(r.user).copy(b, 0);
  b[24] = r.verifyCode;
  b[25] = r.state;
  encodeTimeHex(r.time).copy(b, 26);
  return b;
}
