// Which ONVIF media profile a camera records: the one config names (by token or by name), else
// the highest-resolution H.264/H.265 profile, since `-c copy` keeps whatever the camera sends.

export interface OnvifProfile {
  token: string;
  name: string;
  /** Encoder as the camera reports it (H264, H265, JPEG, ...); null when the profile has none. */
  encoding: string | null;
  width: number | null;
  height: number | null;
  fps: number | null;
}

export class ProfileChoiceError extends Error {
  override name = 'ProfileChoiceError';
}

function normEncoding(e: string | null): string {
  return (e ?? '').toUpperCase().replace(/[^A-Z0-9]/g, '');
}

export function isH26x(p: OnvifProfile): boolean {
  const e = normEncoding(p.encoding);
  return e === 'H264' || e === 'H265' || e === 'HEVC' || e === 'AVC';
}

function pixels(p: OnvifProfile): number {
  return (p.width ?? 0) * (p.height ?? 0);
}

/**
 * Picks the profile to stream. `wanted` matches a token exactly first, then a name exactly, then
 * a name ignoring case; no match is an error listing what the camera offers. Without `wanted`:
 * the largest H.264/H.265 profile (first one on ties), else the largest profile with any video
 * encoder, else the first profile.
 */
export function chooseProfile(profiles: OnvifProfile[], wanted?: string): OnvifProfile {
  if (profiles.length === 0) throw new ProfileChoiceError('the camera reports no media profiles');
  if (wanted !== undefined && wanted !== '') {
    const found =
      profiles.find((p) => p.token === wanted) ??
      profiles.find((p) => p.name === wanted) ??
      profiles.find((p) => p.name.toLowerCase() === wanted.toLowerCase());
    if (found) return found;
    const offered = profiles.map((p) => `${p.name} (${p.token})`).join(', ');
    throw new ProfileChoiceError(`profile "${wanted}" not found; the camera offers: ${offered}`);
  }
  const largest = (list: OnvifProfile[]) => list.reduce((best, p) => (pixels(p) > pixels(best) ? p : best));
  const h26x = profiles.filter(isH26x);
  if (h26x.length) return largest(h26x);
  const video = profiles.filter((p) => p.encoding !== null);
  return video.length ? largest(video) : profiles[0];
}
