// Is this buffer a whole JPEG? Cameras' snapshot endpoints sometimes send an HTML error page
// with status 200, a truncated picture when the encoder is busy, or a few padding bytes after
// the end-of-image marker. We accept the last, refuse the others.

export class JpegError extends Error {
  override name = 'JpegError';
}

/** Bytes allowed after EOI (FF D9) that we strip: NUL/whitespace padding some firmwares add. */
const MAX_TRAILING = 1024;

/**
 * Returns the JPEG trimmed to end at its EOI marker, or throws JpegError when it does not start
 * with SOI (FF D8 FF) or does not end with EOI (after at most a little padding).
 */
export function validJpeg(buf: Buffer): Buffer {
  if (buf.length < 4 || buf[0] !== 0xff || buf[1] !== 0xd8 || buf[2] !== 0xff) {
    const head = buf.subarray(0, 16).toString('latin1').replace(/[^\x20-\x7e]/g, '.');
    throw new JpegError(`not a JPEG (${buf.length} bytes starting ${JSON.stringify(head)})`);
  }
  let end = buf.length;
  const floor = Math.max(4, buf.length - MAX_TRAILING);
  while (end > floor && [0x00, 0x0a, 0x0d, 0x20].includes(buf[end - 1])) end--;
  if (buf[end - 2] !== 0xff || buf[end - 1] !== 0xd9) {
    throw new JpegError(`truncated JPEG (${buf.length} bytes, no end-of-image marker)`);
  }
  return end === buf.length ? buf : buf.subarray(0, end);
}

export function isJpeg(buf: Buffer): boolean {
  try {
    validJpeg(buf);
    return true;
  } catch {
    return false;
  }
}
