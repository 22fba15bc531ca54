// A real RTSP server on loopback for camera tests: GStreamer's gst-rtsp-server (through a tiny
// Python script run by /usr/bin/python3 with gi), serving a live H.264 test pattern at
// rtsp://127.0.0.1:<port>/cam. Chosen over "ffmpeg -f rtsp pushing to a RECORD-capable server"
// because Debian ships it (no npm server, no extra daemon) and one process does both the
// encoding and the serving. The media factory is shared: every client of /cam gets the same
// encoder's output, so N recorders cost one encoder (the bench relies on that).
//
// Debian 12 packages: python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base
// gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly (x264enc) — plus ffmpeg for the recorder.
//
// stop() kills the server; start() again binds the same port (tests "server goes away and
// comes back").
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { freePort } from './free-port.js';

const PYTHON = '/usr/bin/python3';

const SCRIPT = String.raw`
import sys
import gi
gi.require_version('Gst', '1.0')
gi.require_version('GstRtspServer', '1.0')
from gi.repository import Gst, GstRtspServer, GLib

port, width, height, fps, gop, user, password, bitrate = sys.argv[1:9]
Gst.init(None)
server = GstRtspServer.RTSPServer()
server.set_address('127.0.0.1')
server.set_service(port)
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(
    '( videotestsrc is-live=true pattern=smpte ! video/x-raw,width=%s,height=%s,framerate=%s/1 '
    '! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=%s bitrate=%s '
    '! video/x-h264,profile=baseline ! rtph264pay name=pay0 pt=96 config-interval=1 )'
    % (width, height, fps, gop, bitrate))
factory.set_shared(True)
if user:
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, 'user')
    auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
    server.set_auth(auth)
    perms = GstRtspServer.RTSPPermissions()
    perms.add_role_from_structure(Gst.Structure.new_from_string(
        'user, media.factory.access=(boolean)true, media.factory.construct=(boolean)true'))
    factory.set_permissions(perms)
server.get_mount_points().add_factory('/cam', factory)
if server.attach(None) == 0:
    print('BIND-FAILED', flush=True)
    sys.exit(3)
print('READY', flush=True)
GLib.MainLoop().run()
`;

export interface RtspServerOptions {
  port?: number;
  width?: number;
  height?: number;
  fps?: number;
  /** Seconds between keyframes. */
  gopSeconds?: number;
  username?: string;
  password?: string;
  /** x264 bitrate, kbit/s (default 1500). */
  bitrateKbps?: number;
}

export interface TestRtspServer {
  port: number;
  /** rtsp://127.0.0.1:<port>/cam (with credentials when the server requires them). */
  url: string;
  /** Pid of the running server process (null when stopped). */
  pid(): number | null;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Skip message naming what to install, or false when the RTSP server can run here. */
export function rtspServerMissing(): string | false {
  if (!existsSync(PYTHON)) return 'needs /usr/bin/python3 (apt-get install -y python3-gi)';
  const probe = spawnSync(
    PYTHON,
    ['-c', "import gi; gi.require_version('GstRtspServer','1.0'); from gi.repository import GstRtspServer"],
    { stdio: 'ignore' },
  );
  if (probe.status !== 0) return 'needs gst-rtsp-server (apt-get install -y python3-gi gir1.2-gst-rtsp-server-1.0)';
  const x264 = spawnSync('gst-inspect-1.0', ['x264enc'], { stdio: 'ignore' });
  if (x264.status !== 0) return 'needs x264enc (apt-get install -y gstreamer1.0-plugins-ugly gstreamer1.0-tools)';
  return false;
}

export async function startRtspServer(opts: RtspServerOptions = {}): Promise<TestRtspServer> {
  const port = opts.port ?? (await freePort());
  const fps = opts.fps ?? 10;
  const args = [
    '-c',
    SCRIPT,
    String(port),
    String(opts.width ?? 320),
    String(opts.height ?? 240),
    String(fps),
    String(Math.max(1, Math.round(fps * (opts.gopSeconds ?? 1)))),
    opts.username ?? '',
    opts.password ?? '',
    String(opts.bitrateKbps ?? 1500),
  ];
  let child: ChildProcess | null = null;

  async function start(): Promise<void> {
    if (child) return;
    // The port may linger for a moment after a stop; retry binding briefly.
    for (let attempt = 0; ; attempt++) {
      const c = spawn(PYTHON, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      c.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
      const result = await new Promise<string>((resolve) => {
        let out = '';
        c.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('READY')) resolve('ready');
          else if (out.includes('BIND-FAILED')) resolve('bind');
        });
        c.once('exit', () => resolve('exit'));
      });
      if (result === 'ready') {
        child = c;
        c.once('exit', () => {
          if (child === c) child = null;
        });
        return;
      }
      c.kill('SIGKILL');
      if (attempt >= 40) throw new Error(`RTSP server failed to start (${result}): ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function stop(): Promise<void> {
    const c = child;
    if (!c) return;
    child = null;
    await new Promise<void>((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) return resolve();
      c.once('exit', () => resolve());
      c.kill('SIGKILL');
    });
  }

  await start();
  const cred =
    opts.username !== undefined
      ? `${encodeURIComponent(opts.username)}:${encodeURIComponent(opts.password ?? '')}@`
      : '';
  return {
    port,
    url: `rtsp://${cred}127.0.0.1:${port}/cam`,
    pid: () => child?.pid ?? null,
    start,
    stop,
  };
}
