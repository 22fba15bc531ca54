// ZKTeco "standalone SDK" packets: an 8-byte little-endian header (command, checksum, session id,
// reply id) followed by command data. Over TCP each packet is prefixed by the magic 50 50 82 7D and
// a uint32 LE payload length (see tcp-framer.ts); over UDP a datagram is exactly one packet.
//
// Sources: adrobinoga/zk-protocol (protocol.md, checksum test vectors), fananimi/pyzk zk/base.py
// (make_commkey, __create_checksum) and zk/const.py.

/** Command and reply codes used by tpgw (names as in the vendor SDK / pyzk const.py). */
export const CMD = {
  DB_RRQ: 7,
  OPTIONS_RRQ: 11,
  OPTIONS_WRQ: 12,
  ATTLOG_RRQ: 13,
  CLEAR_DATA: 14,
  CLEAR_ATTLOG: 15,
  GET_FREE_SIZES: 50,
  GET_TIME: 201,
  SET_TIME: 202,
  REG_EVENT: 500,
  CONNECT: 1000,
  EXIT: 1001,
  ENABLEDEVICE: 1002,
  DISABLEDEVICE: 1003,
  RESTART: 1004,
  REFRESHDATA: 1013,
  GET_VERSION: 1100,
  AUTH: 1102,
  PREPARE_DATA: 1500,
  DATA: 1501,
  FREE_DATA: 1502,
  PREPARE_BUFFER: 1503,
  READ_BUFFER: 1504,
  ACK_OK: 2000,
  ACK_ERROR: 2001,
  ACK_DATA: 2002,
  ACK_RETRY: 2003,
  ACK_REPEAT: 2004,
  ACK_UNAUTH: 2005,
  ACK_UNKNOWN: 0xffff,
  ACK_ERROR_CMD: 0xfffd,
  ACK_ERROR_INIT: 0xfffc,
  ACK_ERROR_DATA: 0xfffb,
} as const;

/** Realtime event flags (CMD_REG_EVENT data; the event code travels in the session-id field). */
export const EF = {
  ATTLOG: 1,
  FINGER: 1 << 1,
  ENROLLUSER: 1 << 2,
  ENROLLFINGER: 1 << 3,
  BUTTON: 1 << 4,
  UNLOCK: 1 << 5,
  VERIFY: 1 << 7,
  FPFTR: 1 << 8,
  ALARM: 1 << 9,
} as const;

export const HEADER_SIZE = 8;
/** Reply ids run 0..65534 and wrap (the SDK and pyzk wrap at USHRT_MAX = 65535). */
export const REPLY_ID_MODULO = 0xffff;

export interface ZkPacket {
  command: number;
  sessionId: number;
  replyId: number;
  data: Buffer;
}

export interface DecodedPacket extends ZkPacket {
  checksum: number;
  /** Whether the checksum field matches the content. */
  checksumOk: boolean;
}

/**
 * The 16-bit ones'-complement checksum over header (checksum field taken as zero) and data:
 * sum the little-endian 16-bit words (an odd last byte counts as its own value), fold the carries
 * back in, complement. This produces the bytes pyzk puts on the wire (`e8 03 17 fc 00 00 00 00`
 * for CMD_CONNECT) and the vectors published in adrobinoga/zk-protocol.
 */
export function checksum(packet: Uint8Array): number {
  let sum = 0;
  const n = packet.length;
  for (let i = 0; i + 1 < n; i += 2) {
    if (i === 2) continue; // the checksum field itself
    sum += packet[i] | (packet[i + 1] << 8);
  }
  if (n % 2 === 1) sum += packet[n - 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** One packet, without the TCP prefix (that is a UDP datagram). */
export function encodePacket(p: { command: number; sessionId: number; replyId: number; data?: Uint8Array }): Buffer {
  const data = p.data ?? Buffer.alloc(0);
  const buf = Buffer.alloc(HEADER_SIZE + data.length);
  buf.writeUInt16LE(p.command & 0xffff, 0);
  buf.writeUInt16LE(p.sessionId & 0xffff, 4);
  buf.writeUInt16LE(p.replyId & 0xffff, 6);
  buf.set(data, HEADER_SIZE);
  buf.writeUInt16LE(checksum(buf), 2);
  return buf;
}

/** Decodes one packet (no TCP prefix). Returns null when shorter than a header. Never throws. */
export function decodePacket(buf: Uint8Array): DecodedPacket | null {
  if (buf.length < HEADER_SIZE) return null;
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  const sum = b.readUInt16LE(2);
  const expected = checksum(b);
  return {
    command: b.readUInt16LE(0),
    checksum: sum,
    sessionId: b.readUInt16LE(4),
    replyId: b.readUInt16LE(6),
    // Copy: the caller's buffer (a framer's accumulator) may be reused.
    data: Buffer.from(b.subarray(HEADER_SIZE)),
    // 0x0000 and 0xFFFF are the same number in ones' complement.
    checksumOk: sum === expected || (sum === 0 && expected === 0xffff) || (sum === 0xffff && expected === 0),
  };
}

export const TCP_MAGIC = Buffer.from([0x50, 0x50, 0x82, 0x7d]);
export const TCP_PREFIX_SIZE = 8;

/** Adds the TCP prefix: magic 50 50 82 7D + uint32 LE length of the packet. */
export function frameTcp(packet: Uint8Array): Buffer {
  const out = Buffer.alloc(TCP_PREFIX_SIZE + packet.length);
  TCP_MAGIC.copy(out, 0);
  out.writeUInt32LE(packet.length, 4);
  out.set(packet, TCP_PREFIX_SIZE);
  return out;
}

/**
 * The CMD_AUTH payload: the comm key scrambled with the session id, as the vendor's commpro.c
 * MakeKey does (ported from pyzk make_commkey): reverse the key's 32 bits, add the session id,
 * XOR the bytes with "ZKSO", swap the 16-bit halves, XOR with `ticks` and put `ticks` in byte 2.
 * pyzk's integer arithmetic is unbounded and fails past 32 bits; here the sum wraps at 32 bits.
 */
export function makeCommKey(key: number, sessionId: number, ticks = 50): Buffer {
  let k = 0;
  for (let i = 0; i < 32; i++) {
    const bit = Math.floor(key / 2 ** i) % 2; // works for keys up to 2^53, unlike `key & (1 << i)`
    k = ((k << 1) | bit) >>> 0;
  }
  k = (k + (sessionId & 0xffff)) >>> 0;
  const b = Buffer.alloc(4);
  b.writeUInt32LE(k, 0);
  const x = [b[0] ^ 0x5a /* Z */, b[1] ^ 0x4b /* K */, b[2] ^ 0x53 /* S */, b[3] ^ 0x4f /* O */];
  // unpack('HH') then pack('HH', k[1], k[0]): swap the two little-endian halves.
  const s = [x[2], x[3], x[0], x[1]];
  const t = ticks & 0xff;
  return Buffer.from([s[0] ^ t, s[1] ^ t, t, s[3] ^ t]);
}

/** Human-readable name of a command code, for logs and errors. */
export function commandName(code: number): string {
  for (const [name, value] of Object.entries(CMD)) if (value === code) return `CMD_${name}`;
  return `CMD_${code}`;
}
