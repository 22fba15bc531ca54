// The ffmpeg command line of a camera recorder. `-c copy`: no transcoding on a Pi. Video plus
// any audio (`-map 0:v -map 0:a?` rather than `-map 0`: ONVIF cameras may add a data/metadata
// stream the MP4 muxer refuses, which would make every run fail). Crash safety comes from the
// container: fragmented MP4 with a fragment per keyframe and at most one second, or MPEG-TS —
// either way a SIGKILL or power cut loses at most the last fragment. `flush_packets=1` on the
// inner muxer matters: without it ffmpeg keeps up to 256 KiB in its I/O buffer, so a
// low-bitrate camera killed 3 s into a segment left a 28-byte file (measured).

export interface RecorderArgsInput {
  url: string;
  /** Output pattern with %05d, e.g. <recordings>/<cam>/.partial/<run>-%05d.mp4 */
  outputPattern: string;
  segmentSeconds: number;
  format: 'mp4' | 'ts';
  /** Socket I/O timeout so a dead RTSP connection ends ffmpeg instead of hanging it. */
  ioTimeoutSeconds: number;
  audio: boolean;
}

export function recorderArgs(i: RecorderArgsInput): string[] {
  const input = i.url.startsWith('rtsp')
    ? ['-rtsp_transport', 'tcp', '-timeout', String(Math.round(i.ioTimeoutSeconds * 1e6))]
    : [];
  const format =
    i.format === 'mp4'
      ? [
          '-segment_format', 'mp4',
          '-segment_format_options',
          'movflags=+frag_keyframe+empty_moov+default_base_moof:frag_duration=1000000:flush_packets=1',
        ]
      : ['-segment_format', 'mpegts', '-segment_format_options', 'flush_packets=1'];
  return [
    '-hide_banner',
    '-loglevel', 'warning',
    '-nostats',
    '-progress', 'pipe:1',
    ...input,
    '-i', i.url,
    '-map', '0:v',
    ...(i.audio ? ['-map', '0:a?'] : []),
    '-c', 'copy',
    '-f', 'segment',
    '-segment_time', String(i.segmentSeconds),
    '-reset_timestamps', '1',
    ...format,
    '-segment_list', 'pipe:3',
    '-segment_list_type', 'csv',
    '-y',
    i.outputPattern,
  ];
}
