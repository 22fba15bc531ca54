// Which ffmpeg/ffprobe the gateway runs, in order of precedence: config `ffmpeg.path` /
// `ffmpeg.ffprobePath` → env FFMPEG_PATH / FFPROBE_PATH → on PATH → the optional npm package
// @ffmpeg-installer/ffmpeg (for ffprobe: @ffprobe-installer/ffprobe). `tpgw` reports the
// result (path, where it came from, version) so an installer can see what is being used.
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export type BinarySource = 'config' | 'env' | 'path' | 'bundled';

export interface ResolvedBinary {
  path: string;
  source: BinarySource;
  /** Parsed from `<binary> -version`, e.g. "5.1.9-0+deb12u1". */
  version: string;
}

export interface ResolveOptions {
  /** Config value (`ffmpeg.path` or `ffmpeg.ffprobePath`). */
  configured?: string;
  env?: NodeJS.ProcessEnv;
  /** For tests: replaces the dynamic import of @ffmpeg-installer/ffmpeg. */
  bundled?: () => Promise<string | null>;
}

export class BinaryNotFoundError extends Error {
  constructor(
    readonly tool: 'ffmpeg' | 'ffprobe',
    readonly tried: string[],
  ) {
    super(
      `${tool} not found (tried: ${tried.join('; ')}). Install it (apt-get install -y ffmpeg) or set ` +
        `ffmpeg.${tool === 'ffmpeg' ? 'path' : 'ffprobePath'} in the config`,
    );
    this.name = 'BinaryNotFoundError';
  }
}

/** The first executable `cmd` in env.PATH, or null. */
export function onPath(cmd: string, env: NodeJS.ProcessEnv): string | null {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* keep looking */
    }
  }
  return null;
}

/** The binary shipped inside an optional npm package (@ffmpeg-installer/ffmpeg, @ffprobe-installer/ffprobe). */
async function bundledBinary(tool: 'ffmpeg' | 'ffprobe'): Promise<string | null> {
  try {
    // Optional dependency: absent on boxes installed without it. A variable specifier keeps
    // TypeScript from requiring its types at build time.
    const name = tool === 'ffmpeg' ? '@ffmpeg-installer/ffmpeg' : '@ffprobe-installer/ffprobe';
    const mod = (await import(name)) as { default?: { path?: string }; path?: string };
    return mod.default?.path ?? mod.path ?? null;
  } catch {
    return null;
  }
}

/** Runs `<binary> -version` and returns the version word ("ffmpeg version X ..."). */
export function readVersion(binary: string, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(binary, ['-version'], { timeout: timeoutMs }, (err, stdout) => {
      if (err) return reject(err);
      const m = /^\S+ version (\S+)/m.exec(stdout);
      resolve(m ? m[1] : 'unknown');
    });
  });
}

async function resolveTool(tool: 'ffmpeg' | 'ffprobe', opts: ResolveOptions): Promise<ResolvedBinary> {
  const env = opts.env ?? process.env;
  const envName = tool === 'ffmpeg' ? 'FFMPEG_PATH' : 'FFPROBE_PATH';
  const tried: string[] = [];
  const candidates: Array<[BinarySource, () => Promise<string | null> | string | null]> = [
    ['config', () => opts.configured ?? null],
    ['env', () => env[envName] || null],
    ['path', () => onPath(tool, env)],
    ['bundled', () => (opts.bundled ? opts.bundled() : bundledBinary(tool))],
  ];
  for (const [source, find] of candidates) {
    const path = await find();
    if (!path) {
      tried.push(`${source}: none`);
      continue;
    }
    try {
      const version = await readVersion(path);
      return { path, source, version };
    } catch (err) {
      // A configured path that does not run is a mistake to surface, not to paper over with
      // the next candidate: the operator asked for that binary.
      if (source === 'config' || source === 'env') {
        throw new Error(`${tool} from ${source} (${path}) does not run: ${(err as Error).message}`);
      }
      tried.push(`${source}: ${path} does not run`);
    }
  }
  throw new BinaryNotFoundError(tool, tried);
}

export function resolveFfmpeg(opts: ResolveOptions = {}): Promise<ResolvedBinary> {
  return resolveTool('ffmpeg', opts);
}

export function resolveFfprobe(opts: ResolveOptions = {}): Promise<ResolvedBinary> {
  return resolveTool('ffprobe', opts);
}
