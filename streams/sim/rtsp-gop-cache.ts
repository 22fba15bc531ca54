// Keeps the RTP packets of the current group of pictures (from the last keyframe on), so a
// client that starts playing mid-GOP is sent that keyframe first and decodes from its very
// first frame instead of waiting up to a GOP for the next one. The same keyframe detection
// lets a client that fell behind (packets dropped) resume cleanly at the next keyframe.
import type { SimCodec } from './rtsp-sdp.js';

export interface RtpHeader {
  sequence: number;
  timestamp: number;
  payload: Buffer;
}

/** Fixed header, CSRCs, extension and padding stripped; null when not an RTP v2 packet. */
export function parseRtp(packet: Buffer): RtpHeader | null {
  if (packet.length < 12 || packet[0] >> 6 !== 2) return null;
  let offset = 12 + 4 * (packet[0] & 0x0f);
  if (packet[0] & 0x10) {
    if (packet.length < offset + 4) return null;
    offset += 4 + 4 * packet.readUInt16BE(offset + 2);
  }
  let end = packet.length;
  if (packet[0] & 0x20) end -= packet[packet.length - 1];
  if (end < offset) return null;
  return { sequence: packet.readUInt16BE(2), timestamp: packet.readUInt32BE(4), payload: packet.subarray(offset, end) };
}

const H264_IDR = 5;
const H264_SPS = 7;
const H264_STAP_A = 24;
const H264_FU_A = 28;

/** Does this RTP payload carry (the start of) a keyframe or the parameter sets leading one? */
export function startsKeyframe(codec: SimCodec, payload: Buffer): boolean {
  if (payload.length < 2) return false;
  if (codec === 'h264') {
    const type = payload[0] & 0x1f;
    if (type === H264_IDR || type === H264_SPS) return true;
    if (type === H264_FU_A) {
      const fuType = payload[1] & 0x1f;
      return (payload[1] & 0x80) !== 0 && (fuType === H264_IDR || fuType === H264_SPS);
    }
    if (type === H264_STAP_A) {
      for (let off = 1; off + 2 < payload.length; ) {
        const size = payload.readUInt16BE(off);
        const nalType = payload[off + 2] & 0x1f;
        if (nalType === H264_IDR || nalType === H264_SPS) return true;
        off += 2 + size;
      }
    }
    return false;
  }
  // MPEG-4 part 2 (RFC 3016): a packet starting with a VO/VOL/VOS/GOV header, or an I-VOP.
  if (payload.length < 5 || payload[0] !== 0 || payload[1] !== 0 || payload[2] !== 1) return false;
  const code = payload[3];
  if (code <= 0x2f || code === 0xb0 || code === 0xb3) return true;
  return code === 0xb6 && payload[4] >> 6 === 0;
}

export class GopCache {
  private group: Buffer[] = [];
  private groupBytes = 0;
  private groupTimestamp: number | null = null;
  /** False after an overflow until the next keyframe: the partial group is useless to a client. */
  private valid = false;

  constructor(
    private readonly codec: SimCodec,
    private readonly maxBytes = 8 * 1024 * 1024,
  ) {}

  /**
   * Adds a packet; true when it begins a new group. All packets of one keyframe (parameter sets,
   * IDR fragments) share an RTP timestamp, so only the first of them starts the group.
   */
  push(packet: Buffer): boolean {
    const rtp = parseRtp(packet);
    if (!rtp) return false;
    let startsGroup = false;
    if (startsKeyframe(this.codec, rtp.payload) && (!this.valid || rtp.timestamp !== this.groupTimestamp)) {
      this.group = [];
      this.groupBytes = 0;
      this.groupTimestamp = rtp.timestamp;
      this.valid = true;
      startsGroup = true;
    }
    if (!this.valid) return false;
    if (this.groupBytes + packet.length > this.maxBytes) {
      this.clear();
      return false;
    }
    this.group.push(packet);
    this.groupBytes += packet.length;
    return startsGroup;
  }

  /** The current group from its keyframe on; empty when there is no usable group. */
  packets(): readonly Buffer[] {
    return this.valid ? this.group : [];
  }

  clear(): void {
    this.group = [];
    this.groupBytes = 0;
    this.groupTimestamp = null;
    this.valid = false;
  }
}
