// One ONVIF camera over the `onvif` library (0.8.x): clock sync for WS-Security, services,
// profiles, stream and snapshot URIs, device information. And resolveStream(), the function
// the Cameras service takes to turn a camera config into URLs ffmpeg and snapshots use.
//
// What the library does and what we add (read from node_modules/onvif/lib/cam.js, 0.8.3):
// - WS-Security: every request carries a UsernameToken PasswordDigest whose `Created` is
//   `process.uptime() + cam.timeShift`. timeShift is computed from GetSystemDateAndTime, but
//   only `if (!this.timeShift)` and only inside connect(); before that `Created` is 1970 + uptime.
//   We run GetSystemDateAndTime ourselves, then set timeShift unconditionally and check it is a
//   finite number, so a camera hours off (no NTP) still accepts us and a reconnect after the
//   camera clock changed uses the new offset.
// - HTTP Digest for SOAP: the library answers a 401 challenge itself (MD5 or SHA-256, qop=auth).
//   Snapshot URIs are plain HTTP GETs the library does not do: authenticated-get.ts handles those.
// - The library hashes the password as 'ascii' (mangling anything non-ASCII, where cameras use
//   UTF-8) and draws nonces from Math.random: we replace its _passwordDigest on our instance.
// - We avoid cam.connect(): its getActiveSources() throws from inside an HTTP callback on
//   cameras whose profiles do not reference their video source, which would crash the process.
import { createHash, randomBytes } from 'node:crypto';
import onvif from 'onvif';
import type { CameraConfig } from '../../config/cameras.js';
import { chooseProfile, type OnvifProfile } from './profile-choice.js';
import type { StreamsLogger } from '../logger.js';
import { redactCredentials } from '../ffmpeg/redact.js';
import { redactUrl, withCredentials } from './url-credentials.js';

type CamInstance = InstanceType<typeof onvif.Cam>;

export class OnvifError extends Error {
  override name = 'OnvifError';
  constructor(
    message: string,
    /** auth: credentials (or the clock check) refused; network: unreachable/timeout; protocol: anything else. */
    readonly kind: 'auth' | 'network' | 'protocol',
  ) {
    super(message);
  }
}

export interface OnvifEndpoint {
  host: string;
  port?: number;
  username?: string;
  password?: string;
  /** Device service path (default /onvif/device_service; discovery passes the XAddr's). */
  path?: string;
}

export interface OnvifConnectOptions {
  /** Per request. Default 10 s. */
  timeoutMs?: number;
  /** Use the configured host/port for service URLs the camera reports (NAT, wrong self-IP). Default true. */
  preserveAddress?: boolean;
  /**
   * Stamp WS-Security tokens with the camera's clock (default true). false stamps them with our
   * own clock, which cameras whose clock is off reject: only tests want that.
   */
  clockCompensation?: boolean;
  log?: StreamsLogger;
}

export interface DeviceInformation {
  manufacturer?: string;
  model?: string;
  firmware?: string;
  serial?: string;
  hardwareId?: string;
}

function call<T>(cam: CamInstance, method: string, ...args: unknown[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const fn = (cam as unknown as Record<string, (...a: unknown[]) => void>)[method];
    try {
      fn.call(cam, ...args, (err: Error | null, data: T) => (err ? reject(err) : resolve(data)));
    } catch (err) {
      reject(err);
    }
  });
}

const AUTH_PATTERN = /not ?authori[sz]ed|unauthori[sz]ed|authentication failed|digest authentication|\b401\b/i;
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE']);

function str(v: unknown): string | undefined {
  if (v === undefined || v === null || typeof v === 'object') return undefined;
  const s = String(v).trim();
  return s === '' ? undefined : s;
}

function num(v: unknown): number | null {
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) && n > 0 ? n : null;
}

/** Normalises a profile object as the library returns it (Media1 or its Media2 conversion). */
export function toOnvifProfile(raw: unknown): OnvifProfile | null {
  if (!raw || typeof raw !== 'object') return null;
  const p = raw as Record<string, any>;
  const token = str(p.$?.token) ?? str(p.token);
  if (!token) return null;
  const enc = p.videoEncoderConfiguration;
  return {
    token,
    name: str(p.name) ?? token,
    encoding: enc && typeof enc === 'object' ? (str(enc.encoding) ?? null) : null,
    width: num(enc?.resolution?.width),
    height: num(enc?.resolution?.height),
    fps: num(enc?.rateControl?.frameRateLimit),
  };
}

export class OnvifCamera {
  private readonly cam: CamInstance;
  private readonly label: string;
  private servicesLoaded = false;
  private offsetMs: number | null = null;

  constructor(
    private readonly endpoint: OnvifEndpoint,
    private readonly opts: OnvifConnectOptions = {},
  ) {
    this.cam = new onvif.Cam({
      hostname: endpoint.host,
      port: endpoint.port ?? 80,
      username: endpoint.username || undefined,
      password: endpoint.password || undefined,
      path: endpoint.path,
      timeout: opts.timeoutMs ?? 10_000,
      autoconnect: false,
      preserveAddress: opts.preserveAddress ?? true,
    });
    this.label = `${endpoint.host}:${endpoint.port ?? 80}`;
    const password = endpoint.password ?? '';
    const cam = this.cam as unknown as { timeShift?: number; _passwordDigest: () => object };
    cam._passwordDigest = () => {
      const timestamp = new Date(process.uptime() * 1000 + (cam.timeShift ?? 0)).toISOString();
      const nonce = randomBytes(16);
      const passdigest = createHash('sha1')
        .update(Buffer.concat([nonce, Buffer.from(timestamp, 'ascii'), Buffer.from(password, 'utf8')]))
        .digest('base64');
      return { passdigest, nonce: nonce.toString('base64'), timestamp };
    };
  }

  /** Camera clock minus ours, in ms (known after syncClock()). Second resolution: ONVIF reports whole seconds. */
  get timeOffsetMs(): number | null {
    return this.offsetMs;
  }

  private wrap(err: unknown, what: string): OnvifError {
    if (err instanceof OnvifError) return err;
    const e = err as NodeJS.ErrnoException;
    const msg = redactCredentials(String(e?.message ?? err));
    if (e?.code && NETWORK_CODES.has(e.code)) return new OnvifError(`${this.label} ${what}: ${msg}`, 'network');
    if (/network timeout|socket hang up|timeout/i.test(msg)) return new OnvifError(`${this.label} ${what}: ${msg}`, 'network');
    if (AUTH_PATTERN.test(msg)) {
      const clock = this.offsetMs !== null ? ` (camera clock offset ${Math.round(this.offsetMs / 1000)} s)` : '';
      return new OnvifError(`${this.label} ${what}: authentication refused${clock}: ${msg}`, 'auth');
    }
    return new OnvifError(`${this.label} ${what}: ${msg}`, 'protocol');
  }

  /**
   * GetSystemDateAndTime, then WS-Security timestamps follow the camera's clock. Must run before
   * any authenticated request.
   */
  async syncClock(): Promise<number> {
    let cameraTime: Date;
    try {
      cameraTime = await call<Date>(this.cam, 'getSystemDateAndTime');
    } catch (err) {
      throw this.wrap(err, 'GetSystemDateAndTime');
    }
    const t = cameraTime instanceof Date ? cameraTime.getTime() : NaN;
    if (!Number.isFinite(t)) throw new OnvifError(`${this.label}: camera sent an unreadable date/time`, 'protocol');
    this.offsetMs = t - Date.now();
    const uptimeMs = process.uptime() * 1000;
    // The library stamps `Created` as uptime + timeShift (see the header comment).
    this.cam.timeShift = (this.opts.clockCompensation ?? true) ? t - uptimeMs : Date.now() - uptimeMs;
    if (!Number.isFinite(this.cam.timeShift)) {
      throw new OnvifError(`${this.label}: could not compute the camera clock offset`, 'protocol');
    }
    if (Math.abs(this.offsetMs) > 60_000) {
      this.opts.log?.warn({ camera: this.label, offsetSeconds: Math.round(this.offsetMs / 1000) }, 'camera clock is off; compensating for WS-Security');
    }
    return this.offsetMs;
  }

  private async ensureServices(): Promise<void> {
    if (this.servicesLoaded) return;
    if (this.offsetMs === null) await this.syncClock();
    try {
      await call(this.cam, 'getServices', true);
    } catch (err) {
      const wrapped = this.wrap(err, 'GetServices');
      if (wrapped.kind !== 'protocol') throw wrapped;
      // Older (pre-2.0) devices: fall back to GetCapabilities, like the library's connect().
      try {
        await call(this.cam, 'getCapabilities');
      } catch (err2) {
        throw this.wrap(err2, 'GetCapabilities');
      }
    }
    if (!this.cam.uri?.media && !this.cam.uri?.media2) {
      throw new OnvifError(`${this.label}: device has no media service`, 'protocol');
    }
    this.servicesLoaded = true;
  }

  async deviceInformation(): Promise<DeviceInformation> {
    if (this.offsetMs === null && this.endpoint.username) await this.syncClock();
    let info: Record<string, unknown>;
    try {
      info = (await call<Record<string, unknown>>(this.cam, 'getDeviceInformation')) ?? {};
    } catch (err) {
      throw this.wrap(err, 'GetDeviceInformation');
    }
    return {
      manufacturer: str(info.manufacturer),
      model: str(info.model),
      firmware: str(info.firmwareVersion),
      serial: str(info.serialNumber),
      hardwareId: str(info.hardwareId),
    };
  }

  async profiles(): Promise<OnvifProfile[]> {
    await this.ensureServices();
    let raw: unknown;
    try {
      raw = await call(this.cam, 'getProfiles');
    } catch (err) {
      if (!this.cam.media2Support) throw this.wrap(err, 'GetProfiles');
      // Some Media2 implementations are broken (the library works around a D-Link the same way).
      this.cam.media2Support = false;
      try {
        raw = await call(this.cam, 'getProfiles');
      } catch (err2) {
        throw this.wrap(err2, 'GetProfiles');
      }
    }
    const list = Array.isArray(raw) ? raw : raw ? [raw] : [];
    return list.map(toOnvifProfile).filter((p): p is OnvifProfile => p !== null);
  }

  /** The RTSP URI for a profile, as the camera reports it (no credentials added). */
  async streamUri(profileToken: string): Promise<string> {
    await this.ensureServices();
    let res: { uri?: unknown } | undefined;
    try {
      res = await call(this.cam, 'getStreamUri', { protocol: 'RTSP', profileToken });
    } catch (err) {
      throw this.wrap(err, 'GetStreamUri');
    }
    const uri = str(res?.uri);
    if (!uri) throw new OnvifError(`${this.label}: GetStreamUri returned no URI`, 'protocol');
    return this.fixHost(uri);
  }

  /** The snapshot URI for a profile, or undefined when the camera has none. */
  async snapshotUri(profileToken: string): Promise<string | undefined> {
    await this.ensureServices();
    try {
      const res = await call<{ uri?: unknown } | undefined>(this.cam, 'getSnapshotUri', { profileToken });
      const uri = str(res?.uri);
      return uri ? this.fixHost(uri) : undefined;
    } catch (err) {
      const wrapped = this.wrap(err, 'GetSnapshotUri');
      if (wrapped.kind === 'protocol') return undefined; // optional operation
      throw wrapped;
    }
  }

  /** Cameras behind NAT or freshly reset report 0.0.0.0 or localhost: use the address we reached. */
  private fixHost(uri: string): string {
    try {
      const u = new URL(uri);
      if (['0.0.0.0', '[::]', 'localhost', '127.0.0.1'].includes(u.hostname) && u.hostname !== this.endpoint.host) {
        u.hostname = this.endpoint.host;
        return u.toString();
      }
    } catch {
      /* leave unparseable URIs to the caller's validation */
    }
    return uri;
  }
}

export interface ResolvedOnvifStream {
  /** RTSP URL with the camera credentials in it, for ffmpeg only: never log it (redactUrl()). */
  streamUrl: string;
  /** Snapshot URI without credentials (fetch it with Digest). */
  snapshotUrl?: string;
  profile: OnvifProfile;
  manufacturer?: string;
  model?: string;
  firmware?: string;
  /** Camera clock minus ours, ms. */
  timeOffsetMs: number;
}

/** Connects to the camera's ONVIF service and resolves the URLs to record and snapshot from. */
export async function resolveOnvifStream(cam: CameraConfig, opts: OnvifConnectOptions = {}): Promise<ResolvedOnvifStream> {
  if (!cam.onvif) throw new OnvifError(`camera ${cam.id} has no onvif settings`, 'protocol');
  const { host, port, username, password } = cam.onvif;
  const dev = new OnvifCamera({ host, port, username, password }, opts);
  const timeOffsetMs = await dev.syncClock();
  const profile = chooseProfile(await dev.profiles(), cam.profile);
  const raw = await dev.streamUri(profile.token);
  let streamUrl: string;
  try {
    streamUrl = withCredentials(raw, username, password);
  } catch {
    throw new OnvifError(`camera ${cam.id}: stream URI is not a URL: ${redactUrl(raw)}`, 'protocol');
  }
  const snapshotUrl = await dev.snapshotUri(profile.token).catch(() => undefined);
  const info = await dev.deviceInformation().catch(() => ({}) as DeviceInformation);
  opts.log?.info(
    { camera: cam.id, profile: profile.name, encoding: profile.encoding, width: profile.width, height: profile.height, streamUrl: redactUrl(streamUrl), timeOffsetMs },
    'ONVIF stream resolved',
  );
  return {
    streamUrl,
    snapshotUrl,
    profile,
    manufacturer: info.manufacturer,
    model: info.model,
    firmware: info.firmware,
    timeOffsetMs,
  };
}

/**
 * The `resolveStream` option of the Cameras service. `rtspUrl` wins when set (credentials from
 * `onvif` are added if the URL has none; the ONVIF snapshot URI is still used when reachable);
 * without `onvif`, `rtspUrl` is all there is.
 */
export async function resolveStream(
  cam: CameraConfig,
  opts: OnvifConnectOptions = {},
): Promise<{ streamUrl: string; snapshotUrl?: string }> {
  if (cam.rtspUrl) {
    const streamUrl = withCredentials(cam.rtspUrl, cam.onvif?.username, cam.onvif?.password);
    if (!cam.onvif) return { streamUrl };
    try {
      const r = await resolveOnvifStream(cam, opts);
      return { streamUrl, snapshotUrl: r.snapshotUrl };
    } catch (err) {
      opts.log?.warn({ camera: cam.id, err: redactCredentials((err as Error).message) }, 'ONVIF unavailable; using rtspUrl only');
      return { streamUrl };
    }
  }
  if (!cam.onvif) throw new OnvifError(`camera ${cam.id} has neither onvif nor rtspUrl configured`, 'protocol');
  const r = await resolveOnvifStream(cam, opts);
  return { streamUrl: r.streamUrl, snapshotUrl: r.snapshotUrl };
}
