// The RTSP/1.0 wire format as the simulated camera sees it on one TCP connection: requests
// (header block + optional Content-Length body) interleaved with `$`-framed binary packets
// (RTCP receiver reports from clients playing over TCP). The reader never throws on bad input:
// it reports a malformed request and resynchronises at the next blank line, so one bad request
// gets a 400 and the connection keeps working. Only a header block longer than the limit (or a
// body too large to skip) leaves it `broken`: the caller answers 400 and closes.

export interface RtspRequest {
  kind: 'request';
  method: string;
  uri: string;
  version: string;
  /** Header names lower-cased; a repeated header keeps its last value. */
  headers: Map<string, string>;
  body: Buffer;
}

export interface RtspInterleaved {
  kind: 'interleaved';
  channel: number;
  data: Buffer;
}

export interface RtspMalformed {
  kind: 'malformed';
  reason: string;
  /** The CSeq, when one could be read, so the 400 can echo it. */
  cseq?: string;
}

export type RtspInput = RtspRequest | RtspInterleaved | RtspMalformed;

export interface RtspReaderLimits {
  maxHeaderBytes: number;
  maxBodyBytes: number;
}

const DEFAULT_LIMITS: RtspReaderLimits = { maxHeaderBytes: 8192, maxBodyBytes: 65536 };

const CRLFCRLF = Buffer.from('\r\n\r\n');
const LFLF = Buffer.from('\n\n');
const DOLLAR = 0x24;

const METHOD = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const VERSION = /^RTSP\/\d+\.\d+$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Incremental reader: push() chunks as they arrive, get back whatever became complete. */
export class RtspRequestReader {
  private buf: Buffer = Buffer.alloc(0);
  private pendingBody: { request: RtspRequest; length: number } | null = null;
  private isBroken = false;
  /** Body bytes of a rejected request still to be dropped. */
  private skipBytes = 0;
  private readonly limits: RtspReaderLimits;

  constructor(limits: Partial<RtspReaderLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /** True once the stream could not be resynchronised; nothing more will be parsed. */
  get broken(): boolean {
    return this.isBroken;
  }

  push(chunk: Buffer): RtspInput[] {
    if (this.isBroken) return [];
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: RtspInput[] = [];
    for (;;) {
      const item = this.next();
      if (!item) break;
      out.push(item);
      if (this.isBroken) {
        this.buf = Buffer.alloc(0);
        break;
      }
    }
    return out;
  }

  private next(): RtspInput | null {
    if (this.skipBytes > 0) {
      const n = Math.min(this.skipBytes, this.buf.length);
      this.buf = this.buf.subarray(n);
      this.skipBytes -= n;
      if (this.skipBytes > 0) return null;
    }
    if (this.pendingBody) {
      const { request, length } = this.pendingBody;
      if (this.buf.length < length) return null;
      request.body = Buffer.from(this.buf.subarray(0, length));
      this.buf = this.buf.subarray(length);
      this.pendingBody = null;
      return request;
    }
    // Blank lines between messages are allowed (some clients send a trailing CRLF).
    let skip = 0;
    while (skip < this.buf.length && (this.buf[skip] === 0x0d || this.buf[skip] === 0x0a)) skip++;
    if (skip) this.buf = this.buf.subarray(skip);
    if (this.buf.length === 0) return null;

    if (this.buf[0] === DOLLAR) {
      if (this.buf.length < 4) return null;
      const length = this.buf.readUInt16BE(2);
      if (this.buf.length < 4 + length) return null;
      const item: RtspInterleaved = {
        kind: 'interleaved',
        channel: this.buf[1],
        data: Buffer.from(this.buf.subarray(4, 4 + length)),
      };
      this.buf = this.buf.subarray(4 + length);
      return item;
    }

    // Only look as far as the limit allows, so the verdict does not depend on how the bytes
    // were split into chunks.
    const window = this.buf.subarray(0, this.limits.maxHeaderBytes + CRLFCRLF.length);
    const end = headerEnd(window);
    if (!end) {
      if (window.length >= this.limits.maxHeaderBytes + CRLFCRLF.length) {
        this.isBroken = true;
        return { kind: 'malformed', reason: 'request header block too long' };
      }
      return null;
    }
    if (end.headerLength > this.limits.maxHeaderBytes) {
      this.isBroken = true;
      return { kind: 'malformed', reason: 'request header block too long' };
    }
    const head = this.buf.subarray(0, end.headerLength).toString('latin1');
    this.buf = this.buf.subarray(end.headerLength + end.terminatorLength);
    const parsed = parseHead(head);
    if (parsed.kind === 'malformed') {
      if (parsed.contentLength !== undefined && parsed.contentLength > 0) {
        // Skip the body of a request we reject, or its bytes would be read as a new request.
        if (parsed.contentLength > this.limits.maxBodyBytes) this.isBroken = true;
        else this.skipBytes = parsed.contentLength;
      }
      return { kind: 'malformed', reason: parsed.reason, ...(parsed.cseq !== undefined && { cseq: parsed.cseq }) };
    }
    const length = parsed.contentLength;
    if (length > this.limits.maxBodyBytes) {
      this.isBroken = true;
      return { kind: 'malformed', reason: 'request body too large', cseq: parsed.request.headers.get('cseq') };
    }
    if (length > 0) {
      this.pendingBody = { request: parsed.request, length };
      return this.next();
    }
    return parsed.request;
  }
}

function headerEnd(buf: Buffer): { headerLength: number; terminatorLength: number } | null {
  const crlf = buf.indexOf(CRLFCRLF);
  const lf = buf.indexOf(LFLF);
  if (crlf < 0 && lf < 0) return null;
  if (lf >= 0 && (crlf < 0 || lf < crlf)) return { headerLength: lf, terminatorLength: 2 };
  return { headerLength: crlf, terminatorLength: 4 };
}

type HeadResult =
  | { kind: 'ok'; request: RtspRequest; contentLength: number }
  | { kind: 'malformed'; reason: string; cseq?: string; contentLength?: number };

function parseHead(head: string): HeadResult {
  const lines = head.split(/\r?\n/);
  const headers = new Map<string, string>();
  let badHeader: string | null = null;
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon).trim() : '';
    if (!HEADER_NAME.test(name)) {
      badHeader ??= 'malformed header line';
      continue;
    }
    headers.set(name.toLowerCase(), line.slice(colon + 1).trim());
  }
  const cseqRaw = headers.get('cseq');
  const cseq = cseqRaw !== undefined && /^\d{1,10}$/.test(cseqRaw) ? cseqRaw : undefined;
  const clRaw = headers.get('content-length');
  let contentLength = 0;
  if (clRaw !== undefined) {
    if (!/^\d{1,9}$/.test(clRaw)) return { kind: 'malformed', reason: 'bad Content-Length', cseq };
    contentLength = Number(clRaw);
  }
  const fail = (reason: string): HeadResult => ({ kind: 'malformed', reason, cseq, contentLength });
  const parts = lines[0].split(' ');
  if (parts.length !== 3) return fail('request line is not "METHOD URI RTSP/1.0"');
  const [method, uri, version] = parts;
  if (!METHOD.test(method)) return fail('bad method');
  if (!uri || /[\x00-\x20\x7f-\xff]/.test(uri)) return fail('bad request URI');
  if (!VERSION.test(version)) return fail('bad protocol version');
  if (badHeader) return fail(badHeader);
  if (cseqRaw === undefined) return fail('missing CSeq');
  if (cseq === undefined) return fail('bad CSeq');
  return { kind: 'ok', request: { kind: 'request', method, uri, version, headers, body: Buffer.alloc(0) }, contentLength };
}

const REASONS: Record<number, string> = {
  200: 'OK',
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  454: 'Session Not Found',
  455: 'Method Not Valid in This State',
  459: 'Aggregate Operation Not Allowed',
  461: 'Unsupported Transport',
  501: 'Not Implemented',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  505: 'RTSP Version Not Supported',
};

/** A complete RTSP/1.0 response; Content-Length is added when there is a body. */
export function formatResponse(status: number, headers: Array<[string, string]>, body?: string | Buffer): Buffer {
  const bodyBuf = body === undefined ? null : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  let head = `RTSP/1.0 ${status} ${REASONS[status] ?? 'Unknown'}\r\n`;
  for (const [name, value] of headers) head += `${name}: ${value}\r\n`;
  if (bodyBuf) head += `Content-Length: ${bodyBuf.length}\r\n`;
  head += '\r\n';
  return bodyBuf ? Buffer.concat([Buffer.from(head, 'latin1'), bodyBuf]) : Buffer.from(head, 'latin1');
}

/** `$` + channel + u16 length + packet: RTP/RTCP interleaved on the RTSP connection (RFC 2326 §10.12). */
export function interleavedFrame(channel: number, packet: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(4 + packet.length);
  frame[0] = DOLLAR;
  frame[1] = channel;
  frame.writeUInt16BE(packet.length, 2);
  packet.copy(frame, 4);
  return frame;
}
