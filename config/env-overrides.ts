// Applies `TPGW_<PATH>` environment variables on top of the parsed config file.
//
// Naming: levels are separated by `__`, each level is matched against the schema's keys ignoring
// case and single underscores (`TPGW_SYNC__BATCHMAX` and `TPGW_SYNC__BATCH_MAX` both set
// `sync.batchMax`), list items by index (`TPGW_CLOCKS__0__PORT`). Values are converted to the
// type the schema expects at that key, so a password "1234" stays a string while
// `TPGW_SYNC__BATCHMAX=100` becomes a number; keys holding a mapping or list take JSON text.
//
// Every other `TPGW_*` name is an error: a typo in an override must not be silently ignored.
// Values are never echoed in errors except where they are numbers/flags/choices (never secrets).
import type { z } from 'zod';
import { formatPath } from './format-path.js';
import { container, isPlainObject, keysFor, leafKind, variantsFor, type LeafKind } from './schema-walk.js';

export const ENV_PREFIX = 'TPGW_';

/** `TPGW_*` variables that are not config keys and are therefore not overrides. */
export const NON_CONFIG_ENV: ReadonlySet<string> = new Set([
  'TPGW_CONFIG', // path of the config file (same as --config)
  'TPGW_LOG_PRETTY', // human-readable logs instead of JSON (development)
]);

type Seg = string | number;
interface Planned {
  name: string;
  /** Resolved config path (schema key names, list indexes). */
  path: Seg[];
  value: unknown;
}
type Resolution = { ok: true; plan: Planned } | { ok: false; error: string } | { ok: 'defer' };

/**
 * Returns a copy of `input` with the overrides applied, and one error per bad variable.
 * `input` is not modified.
 */
export function applyEnvOverrides(
  input: Record<string, unknown>,
  env: Readonly<Record<string, string | undefined>>,
  schema: z.core.$ZodType,
): { value: Record<string, unknown>; errors: string[] } {
  const root = structuredClone(input);
  const errors: string[] = [];

  const pending: Array<{ name: string; segs: string[]; raw: string }> = [];
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || raw === undefined || NON_CONFIG_ENV.has(name)) continue;
    const segs = name.slice(ENV_PREFIX.length).split('__');
    if (segs.some((s) => s === '' || s.startsWith('_') || s.endsWith('_'))) {
      errors.push(`${name}: malformed override name (levels are separated by exactly two underscores, e.g. TPGW_CENTER__MQTT__URL)`);
      continue;
    }
    pending.push({ name, segs, raw });
  }
  // Whole mappings/lists (JSON) first, then their keys; list items in index order so
  // TPGW_CLOCKS__0__* is applied before TPGW_CLOCKS__1__*.
  pending.sort((a, b) => a.segs.length - b.segs.length || a.name.localeCompare(b.name, 'en', { numeric: true }));

  // A key inside a union (a clock of some driver) can need the discriminator set first: retry
  // deferred variables while some progress is made, then report what is still undecidable.
  let queue = pending;
  for (let final = false; queue.length > 0; ) {
    const deferred: typeof queue = [];
    for (const p of queue) {
      const r = resolve(root, schema, p.name, p.segs, p.raw, final);
      if (r.ok === 'defer') deferred.push(p);
      else if (!r.ok) errors.push(r.error);
      else {
        const err = apply(root, r.plan);
        if (err) errors.push(err);
      }
    }
    if (deferred.length === queue.length) final = true;
    queue = deferred;
  }
  return { value: root, errors };
}

const norm = (s: string) => s.replace(/_/g, '').toLowerCase();

function resolve(root: unknown, schema: z.core.$ZodType, name: string, segs: string[], raw: string, final: boolean): Resolution {
  const path: Seg[] = [];
  let current: z.core.$ZodType = schema;
  let data: unknown = root;
  for (const seg of segs) {
    const c = container(current);
    if (c.kind === 'list') {
      if (!/^\d+$/.test(seg)) return fail(name, `${formatPath(path)} is a list; expected an item index, got "${seg}"`);
      const index = Number(seg);
      // Items are added in order, so TPGW_CLOCKS__999999999__ID cannot make a sparse giant list.
      const length = Array.isArray(data) ? data.length : 0;
      if (index > length) return fail(name, `${formatPath(path)} has ${length} item(s); add items in order (next index is ${length})`);
      path.push(index);
      current = c.element;
      data = Array.isArray(data) ? data[index] : undefined;
    } else if (c.kind === 'mapping') {
      const candidates = variantsFor(c, data).flatMap((shape) => {
        const key = Object.keys(shape).find((k) => norm(k) === norm(seg));
        return key === undefined ? [] : [{ key, schema: shape[key] }];
      });
      if (candidates.length === 0) {
        const where = path.length === 0 ? 'at the top level' : `in ${formatPath(path)}`;
        const valid = keysFor(c, data);
        // TPGW_LOG_LEVEL for TPGW_LOG__LEVEL is the likely slip: point at the double underscore.
        const head = seg.split('_')[0];
        const hint = seg.includes('_') && valid.some((k) => norm(k) === norm(head)) ? `; levels are separated by two underscores: ${name.replace(`${head}_`, `${head}__`)}` : '';
        return fail(name, `unknown setting "${seg}" ${where} (valid: ${valid.join(', ')})${hint}`);
      }
      if (c.discriminator && candidates[0].key === c.discriminator) {
        // The discriminator itself (`driver`) selects the variant: any variant's tag is allowed.
        path.push(c.discriminator);
        current = candidates[0].schema;
        const tags = c.variants.flatMap((v) => (v.tag === undefined ? [] : [v.tag]));
        if (path.length !== segs.length) return fail(name, `${formatPath(path)} is a single value and has no "${segs[path.length]}"`);
        const coerced = coerce(raw, { kind: 'choice', values: tags });
        if (!coerced.ok) return fail(name, coerced.error, path);
        return { ok: true, plan: { name, path, value: coerced.value } };
      }
      const kinds = new Set(candidates.map((cand) => JSON.stringify(leafKind(cand.schema))));
      if (kinds.size > 1 || new Set(candidates.map((cand) => cand.key)).size > 1) {
        if (!final) return { ok: 'defer' };
        return fail(name, `the type of ${formatPath([...path, candidates[0].key])} depends on ${formatPath([...path, c.discriminator ?? '?'])}, which is not set`);
      }
      path.push(candidates[0].key);
      current = candidates[0].schema;
      data = isPlainObject(data) ? data[candidates[0].key] : undefined;
    } else {
      return fail(name, `${formatPath(path)} is a single value and has no "${seg}"`);
    }
  }
  const coerced = coerce(raw, leafKind(current));
  if (!coerced.ok) return fail(name, coerced.error, path);
  return { ok: true, plan: { name, path, value: coerced.value } };
}

/** `TPGW_X: message`, or `TPGW_X (config.path): message` once the path is known. */
const fail = (name: string, error: string, path?: Seg[]): Resolution => ({
  ok: false,
  error: path ? `${name} (${formatPath(path)}): ${error}` : `${name}: ${error}`,
});

type Coerced = { ok: true; value: unknown } | { ok: false; error: string };

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

export function coerce(raw: string, kind: LeafKind): Coerced {
  const text = raw.trim();
  switch (kind.kind) {
    case 'string':
      return { ok: true, value: raw };
    case 'number': {
      const n = Number(text);
      if (text === '' || !Number.isFinite(n)) return { ok: false, error: `expected a number, got ${JSON.stringify(clip(raw))}` };
      return { ok: true, value: n };
    }
    case 'boolean': {
      const t = text.toLowerCase();
      if (TRUE.has(t)) return { ok: true, value: true };
      if (FALSE.has(t)) return { ok: true, value: false };
      return { ok: false, error: `expected true or false, got ${JSON.stringify(clip(raw))}` };
    }
    case 'choice': {
      const hit =
        kind.values.find((v) => String(v) === text) ?? kind.values.find((v) => String(v).toLowerCase() === text.toLowerCase());
      if (hit === undefined) return { ok: false, error: `must be one of ${kind.values.join(', ')}, got ${JSON.stringify(clip(raw))}` };
      return { ok: true, value: hit };
    }
    case 'json':
      try {
        return { ok: true, value: JSON.parse(text) as unknown };
      } catch {
        // The text may hold secrets (a list of cameras with passwords): do not echo it.
        return { ok: false, error: `expected JSON text (${kind.expect})` };
      }
  }
}

const clip = (s: string) => (s.length > 40 ? `${s.slice(0, 40)}…` : s);

/** Writes the planned value, creating missing mappings/lists on the way. */
function apply(root: Record<string, unknown>, plan: Planned): string | null {
  let node: unknown = root;
  for (let i = 0; i < plan.path.length; i++) {
    const seg = plan.path[i];
    const last = i === plan.path.length - 1;
    const next = plan.path[i + 1];
    if (typeof seg === 'number') {
      if (!Array.isArray(node)) return `${plan.name}: ${formatPath(plan.path.slice(0, i))} in the config file is not a list`;
      if (seg > node.length) {
        return `${plan.name}: ${formatPath(plan.path.slice(0, i))} has ${node.length} item(s); add items in order (next index is ${node.length})`;
      }
      if (last) node[seg] = plan.value;
      else if (node[seg] === undefined || node[seg] === null) node[seg] = typeof next === 'number' ? [] : {};
      node = node[seg];
    } else {
      if (!isPlainObject(node)) return `${plan.name}: ${formatPath(plan.path.slice(0, i))} in the config file is not a mapping`;
      if (last) node[seg] = plan.value;
      else if (node[seg] === undefined || node[seg] === null) node[seg] = typeof next === 'number' ? [] : {};
      node = node[seg];
    }
  }
  return null;
}
