// Loads the gateway configuration: YAML file -> TPGW_* env overrides -> zod validation with
// defaults. Every problem comes back as one `path: message` line; nothing throws, and nothing
// but the config file itself is read (a bad config must never touch the data directory, so
// paths inside the config — dataDir, TLS files — are checked by whoever opens them).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { configHash } from './config-hash.js';
import { redactConfig } from './redact.js';
import { applyEnvOverrides } from './env-overrides.js';
import { formatIssues } from './issues.js';
import { parseConfigYaml } from './read-yaml.js';
import { configSchema, type Config } from './schema.js';

export type LoadResult =
  | { ok: true; config: Config; source: string | null; hash: string }
  | { ok: false; errors: string[] };

export interface LoadOptions {
  /** Config file path; default `env.TPGW_CONFIG`; with neither, the config comes from env alone. */
  file?: string;
  /** Default: process.env. */
  env?: NodeJS.ProcessEnv;
}

export function loadConfig(opts: LoadOptions = {}): LoadResult {
  const env = opts.env ?? process.env;
  const file = opts.file || env.TPGW_CONFIG || undefined;
  if (file === undefined) return loadConfigText(null, { env, source: null });
  const source = resolve(file);
  let text: string;
  try {
    text = readFileSync(source, 'utf8');
  } catch (err) {
    return { ok: false, errors: [`${file}: cannot read config file (${describeFsError(err)})`] };
  }
  return loadConfigText(text, { env, source });
}

/**
 * Same as loadConfig for text already in memory (`null`: no file, env only). `source` names the
 * text in error messages and is returned as the result's source.
 */
export function loadConfigText(text: string | null, opts: { env?: NodeJS.ProcessEnv; source?: string | null } = {}): LoadResult {
  const env = opts.env ?? process.env;
  const source = opts.source ?? null;
  let fromFile: Record<string, unknown> = {};
  if (text !== null) {
    const parsed = parseConfigYaml(text, source ?? 'config');
    if (!parsed.ok) return parsed;
    fromFile = parsed.value;
  }
  const overridden = applyEnvOverrides(fromFile, env, configSchema);
  const result = configSchema.safeParse(overridden.value);
  const errors = [...overridden.errors, ...(result.success ? [] : formatIssues(result.error.issues, overridden.value, configSchema))];
  if (errors.length > 0 || !result.success) return { ok: false, errors };
  // Hashed without secrets: the hash is published (retained tpgw/G/info), and short secrets
  // such as a zk commKey could otherwise be brute-forced from it.
  return { ok: true, config: result.data, source, hash: configHash(redactConfig(result.data)) };
}

function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  return code ?? (err instanceof Error ? err.message : String(err));
}
