// The R30x family packet (Grow R30x/R503, AS608, ZFM-20 — same protocol):
//   EF 01 | address(4) | PID(1) | length(2) | payload | checksum(2)      all big-endian
// `length` counts payload + the 2 checksum bytes; the checksum is the low 16 bits of the sum of
// PID, both length bytes and every payload byte (the header and address are not summed).

export const HEADER = 0xef01;
/** Bytes before the payload: header(2) address(4) pid(1) length(2). */
export const PREFIX_BYTES = 9;
/** Largest payload we accept: the biggest data packet a module can be set to (256) plus slack for
 * the 33-byte ReadIndexTable ack etc. A larger length field is garbage, not a packet. */
export const MAX_PAYLOAD = 256;
export const DEFAULT_ADDRESS = 0xffffffff;

/** Packet identifiers. */
export const Pid = {
  command: 0x01,
  data: 0x02,
  ack: 0x07,
  endData: 0x08,
} as const;
export type PidValue = (typeof Pid)[keyof typeof Pid];

export interface R30xPacket {
  address: number;
  pid: number;
  payload: Buffer;
}

export function checksumOf(pid: number, length: number, payload: Uint8Array): number {
  let sum = pid + (length >> 8) + (length & 0xff);
  for (const b of payload) sum += b;
  return sum & 0xffff;
}

export function encodePacket(p: R30xPacket): Buffer {
  if (p.payload.length > MAX_PAYLOAD) throw new RangeError(`payload of ${p.payload.length} bytes exceeds ${MAX_PAYLOAD}`);
  if (!Number.isInteger(p.address) || p.address < 0 || p.address > 0xffffffff) throw new RangeError('address must be a 32-bit unsigned integer');
  const length = p.payload.length + 2;
  const out = Buffer.alloc(PREFIX_BYTES + length);
  out.writeUInt16BE(HEADER, 0);
  out.writeUInt32BE(p.address, 2);
  out.writeUInt8(p.pid, 6);
  out.writeUInt16BE(length, 7);
  p.payload.copy(out, PREFIX_BYTES);
  out.writeUInt16BE(checksumOf(p.pid, length, p.payload), PREFIX_BYTES + p.payload.length);
  return out;
}

export class R30xFrameError extends Error {
  constructor(readonly reason: 'short' | 'header' | 'length' | 'checksum' | 'pid', message: string) {
    super(message);
    this.name = 'R30xFrameError';
  }
}

const KNOWN_PIDS: ReadonlySet<number> = new Set(Object.values(Pid));

/** Decodes exactly one whole packet; throws R30xFrameError on anything malformed. */
export function decodePacket(frame: Buffer): R30xPacket {
  if (frame.length < PREFIX_BYTES + 2) throw new R30xFrameError('short', `frame of ${frame.length} bytes is shorter than a packet`);
  if (frame.readUInt16BE(0) !== HEADER) throw new R30xFrameError('header', 'frame does not start with EF 01');
  const pid = frame[6];
  if (!KNOWN_PIDS.has(pid)) throw new R30xFrameError('pid', `unknown packet id 0x${pid.toString(16)}`);
  const length = frame.readUInt16BE(7);
  if (length < 2 || length - 2 > MAX_PAYLOAD || frame.length !== PREFIX_BYTES + length) {
    throw new R30xFrameError('length', `length field ${length} does not fit a ${frame.length}-byte frame`);
  }
  const payload = frame.subarray(PREFIX_BYTES, PREFIX_BYTES + length - 2);
  const got = frame.readUInt16BE(PREFIX_BYTES + length - 2);
  const want = checksumOf(pid, length, payload);
  if (got !== want) throw new R30xFrameError('checksum', `checksum 0x${got.toString(16)} != computed 0x${want.toString(16)}`);
  return { address: frame.readUInt32BE(2), pid, payload: Buffer.from(payload) };
}

export function parseAddress(hex: string): number {
  if (!/^[0-9A-Fa-f]{8}$/.test(hex)) throw new RangeError('address/password must be 8 hex digits');
  return Number.parseInt(hex, 16) >>> 0;
}
