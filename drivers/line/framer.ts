// Framing: a byte stream from a serial port -> whole frames, in order. Framers are synchronous
// and never throw, so the driver can hand each frame to the (synchronous, durable) sink before it
// looks at the next one, and can drop a half-received frame at the exact moment the port closes;
// a partial line from before an unplug must never merge with bytes after the replug into a punch.

export type FrameOutput =
  /** A complete frame: `text` is what the decoder reads, `raw` what the audit log keeps. */
  | { kind: 'frame'; text: string; raw: string }
  /** Bytes that could not be framed (overlong line, truncated frame, noise). */
  | { kind: 'bad'; raw: string; reason: string };

export interface Framer {
  /** Feeds received bytes; returns the frames they completed, in order. */
  push(chunk: Buffer): FrameOutput[];
  /** Forgets any partial frame (port closed); returns it as a bad output when there was one. */
  reset(): FrameOutput | null;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Bytes as text for decoding and audit: UTF-8 when valid, else Latin-1 (one char per byte, lossless). */
export function bytesToText(bytes: Buffer): string {
  try {
    return utf8.decode(bytes);
  } catch {
    return bytes.toString('latin1');
  }
}

/** At most `max` bytes of a dropped run, for logs: enough to recognise it, never a memory hog. */
export function sampleOf(bytes: Buffer, max = 64): string {
  return bytesToText(bytes.subarray(0, max));
}
