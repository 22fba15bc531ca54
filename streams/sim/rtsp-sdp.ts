// Turns the SDP ffmpeg prints for its RTP output (addressed to our UDP port on loopback) into
// the session description the simulated camera serves on DESCRIBE: no address or port (the
// media travels interleaved on the RTSP connection), one track with `a=control:trackID=0`, and
// the fmtp line untouched so clients get the parameter sets (sprop-parameter-sets for H.264,
// config= for MPEG-4) before the first keyframe.

export type SimCodec = 'h264' | 'mpeg4';

export const TRACK_CONTROL = 'trackID=0';

export interface ServedSdp {
  sdp: string;
  codec: SimCodec;
  payloadType: number;
}

/** Extracts the block after "SDP:" from ffmpeg's stdout; null until the blank line ending it. */
export function sdpFromFfmpegStdout(stdout: string): string | null {
  const at = stdout.indexOf('SDP:');
  if (at < 0) return null;
  const rest = stdout.slice(at + 4).replace(/^\r?\n/, '');
  const end = rest.search(/\r?\n\r?\n/);
  if (end < 0) return null;
  return rest.slice(0, end);
}

export function rewriteSdp(ffmpegSdp: string, sessionId: string): ServedSdp {
  const lines = ffmpegSdp.split(/\r?\n/).filter((l) => l.length > 0);
  const mIndex = lines.findIndex((l) => l.startsWith('m='));
  if (mIndex < 0) throw new Error('SDP from ffmpeg has no media section');
  if (lines.slice(mIndex + 1).some((l) => l.startsWith('m='))) {
    throw new Error('SDP from ffmpeg has more than one media section');
  }
  const m = /^m=video \d+ RTP\/AVP (\d+)$/.exec(lines[mIndex]);
  if (!m) throw new Error(`unexpected media line in ffmpeg's SDP: ${lines[mIndex]}`);
  const payloadType = Number(m[1]);
  const media = lines.slice(mIndex + 1).filter((l) => !l.startsWith('a=control:') && !l.startsWith('c='));
  const rtpmap = media.find((l) => l.startsWith(`a=rtpmap:${payloadType} `));
  const encoding = rtpmap ? rtpmap.split(' ')[1]?.split('/')[0]?.toUpperCase() : undefined;
  let codec: SimCodec;
  if (encoding === 'H264') codec = 'h264';
  else if (encoding === 'MP4V-ES') codec = 'mpeg4';
  else throw new Error(`unsupported encoding in ffmpeg's SDP: ${encoding ?? 'none'}`);
  const sdp = [
    'v=0',
    `o=- ${sessionId} 1 IN IP4 0.0.0.0`,
    's=tpgw simulated camera',
    'c=IN IP4 0.0.0.0',
    't=0 0',
    'a=control:*',
    `m=video 0 RTP/AVP ${payloadType}`,
    ...media,
    `a=control:${TRACK_CONTROL}`,
    '',
  ].join('\r\n');
  return { sdp, codec, payloadType };
}
