// Fresh JPEGs from cameras, for the periodic snapshot and the `snapshot` request. The ONVIF
// snapshot URI (with Digest) is cheapest for the camera; when a camera has none or it fails, one
// frame is grabbed from the stream with ffmpeg. Every picture is checked to be a whole JPEG and
// kept under snapshots.maxBytes (shrunk with ffmpeg when the camera's is bigger).
import type { CameraConfig } from '../../config/cameras.js';
import { authenticatedGet } from '../onvif/authenticated-get.js';
import { DigestSession } from '../onvif/digest-auth.js';
import { resolveStream as resolveViaOnvif } from '../onvif/onvif-camera.js';
import { redactCredentials } from '../ffmpeg/redact.js';
import { grabFrame, reencodeJpeg } from './ffmpeg-frame.js';
import { validJpeg } from './jpeg.js';

/** The seam the Cameras service takes (`snapshotter` option). */
export interface Snapshotter {
  grab(camera: string): Promise<Buffer>;
}

export class SnapshotError extends Error {
  override name = 'SnapshotError';
}

export interface SnapshotSource {
  /** Stream URL ffmpeg can open (may carry credentials; never logged). */
  streamUrl?: string;
  /** Snapshot URI without credentials. */
  snapshotUrl?: string;
}

export interface OnvifOrFfmpegSnapshotterOptions {
  cameras: CameraConfig[];
  /** snapshots.maxBytes */
  maxBytes: number;
  ffmpegPath?: string;
  /** Per attempt (HTTP fetch or ffmpeg run). Default 15 s. */
  timeoutMs?: number;
  /** How URLs are found when nobody called setSource(). Default: ONVIF / rtspUrl resolution. */
  resolve?: (cam: CameraConfig) => Promise<SnapshotSource>;
}

/** Widths and qualities tried, in order, to bring an oversized picture under maxBytes. */
const SHRINK_STEPS = [
  { maxWidth: 1280, quality: 6 },
  { maxWidth: 960, quality: 9 },
  { maxWidth: 640, quality: 12 },
  { maxWidth: 320, quality: 18 },
];

export class OnvifOrFfmpegSnapshotter implements Snapshotter {
  private readonly cameras = new Map<string, CameraConfig>();
  private readonly sources = new Map<string, SnapshotSource>();
  private readonly digest = new Map<string, DigestSession>();

  constructor(private readonly opts: OnvifOrFfmpegSnapshotterOptions) {
    for (const c of opts.cameras) this.cameras.set(c.id, c);
  }

  /** Lets the Cameras service share the URLs it already resolved (saves an ONVIF round trip). */
  setSource(camera: string, source: SnapshotSource): void {
    this.sources.set(camera, source);
  }

  private async source(cam: CameraConfig): Promise<SnapshotSource> {
    const known = this.sources.get(cam.id);
    if (known) return known;
    const resolved = await (this.opts.resolve ?? resolveViaOnvif)(cam);
    this.sources.set(cam.id, resolved);
    return resolved;
  }

  async grab(camera: string): Promise<Buffer> {
    const cam = this.cameras.get(camera);
    if (!cam) throw new SnapshotError(`unknown camera ${JSON.stringify(camera)}`);
    let src: SnapshotSource;
    try {
      src = await this.source(cam);
    } catch (err) {
      throw new SnapshotError(`camera ${camera}: ${redactCredentials((err as Error).message)}`);
    }
    const timeoutMs = this.opts.timeoutMs ?? 15_000;
    const failures: string[] = [];
    let jpeg: Buffer | null = null;

    if (src.snapshotUrl) {
      try {
        let session = this.digest.get(camera);
        if (!session && cam.onvif?.username) {
          session = new DigestSession(cam.onvif.username, cam.onvif.password ?? '');
          this.digest.set(camera, session);
        }
        const res = await authenticatedGet(src.snapshotUrl, {
          username: cam.onvif?.username,
          password: cam.onvif?.password,
          session,
          timeoutMs,
          // Room to shrink a big picture rather than refuse it outright.
          maxBytes: Math.max(this.opts.maxBytes * 16, 8 * 1024 * 1024),
        });
        jpeg = validJpeg(res.body);
      } catch (err) {
        failures.push(`snapshot URI: ${(err as Error).message}`);
      }
    }
    if (!jpeg && src.streamUrl) {
      try {
        jpeg = validJpeg(await grabFrame(src.streamUrl, { ffmpegPath: this.opts.ffmpegPath, timeoutMs }));
      } catch (err) {
        failures.push(`frame grab: ${(err as Error).message}`);
      }
    }
    if (!jpeg) {
      // Resolve again next time (unless someone set a newer source meanwhile): the camera may
      // have rebooted with new URIs or a new IP.
      if (this.sources.get(camera) === src) this.sources.delete(camera);
      if (failures.length === 0) failures.push('no snapshot URI and no stream URL');
      throw new SnapshotError(`camera ${camera}: ${redactCredentials(failures.join('; '))}`);
    }
    return this.bound(camera, jpeg, timeoutMs);
  }

  private async bound(camera: string, jpeg: Buffer, timeoutMs: number): Promise<Buffer> {
    const max = this.opts.maxBytes;
    if (jpeg.length <= max) return jpeg;
    const original = jpeg.length;
    for (const step of SHRINK_STEPS) {
      try {
        const smaller = validJpeg(await reencodeJpeg(jpeg, { ...step, ffmpegPath: this.opts.ffmpegPath, timeoutMs }));
        if (smaller.length <= max) return smaller;
      } catch (err) {
        throw new SnapshotError(`camera ${camera}: snapshot of ${original} bytes over ${max} and shrinking failed: ${(err as Error).message}`);
      }
    }
    throw new SnapshotError(`camera ${camera}: snapshot of ${original} bytes cannot be brought under ${max} bytes`);
  }
}
