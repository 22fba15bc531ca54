// Reads the shape of the zod config schema at run time, so env overrides and error messages can
// follow the real keys and leaf types instead of a hand-kept copy that would drift from schema.ts.
// Only the wrappers and containers the config schema uses are understood; anything else is
// treated as an opaque value (set from JSON text).
import type { z } from 'zod';

type AnySchema = z.core.$ZodType;
// The def fields we read; zod's own def types are a union too wide to narrow ergonomically.
interface LooseDef {
  type: string;
  innerType?: AnySchema;
  in?: AnySchema;
  shape?: Record<string, AnySchema>;
  element?: AnySchema;
  options?: AnySchema[];
  discriminator?: string;
  entries?: Record<string, string | number>;
  values?: unknown[];
}

const def = (s: AnySchema): LooseDef => s._zod.def as unknown as LooseDef;

const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'catch', 'readonly', 'nonoptional']);

/** Strips optional/default/prefault/... to the schema that decides the value's shape. */
export function unwrap(schema: AnySchema): AnySchema {
  let s = schema;
  for (let guard = 0; guard < 32; guard++) {
    const d = def(s);
    if (WRAPPERS.has(d.type) && d.innerType) s = d.innerType;
    else if (d.type === 'pipe' && d.in) s = d.in;
    else break;
  }
  return s;
}

/** What a string from the environment has to be turned into for this schema. */
export type LeafKind =
  | { kind: 'string' }
  | { kind: 'number' }
  | { kind: 'boolean' }
  | { kind: 'choice'; values: ReadonlyArray<string | number | boolean> }
  | { kind: 'json'; expect: 'a mapping' | 'a list' | 'a value' };

export function leafKind(schema: AnySchema): LeafKind {
  const s = unwrap(schema);
  const d = def(s);
  switch (d.type) {
    case 'string':
      return { kind: 'string' };
    case 'number':
    case 'int':
      return { kind: 'number' };
    case 'boolean':
      return { kind: 'boolean' };
    case 'enum':
      return { kind: 'choice', values: Object.values(d.entries ?? {}) };
    case 'literal':
      return { kind: 'choice', values: (d.values ?? []).filter(isScalar) };
    case 'union': {
      const kinds = (d.options ?? []).map(leafKind);
      if (kinds.length > 0 && kinds.every((k) => k.kind === 'choice')) {
        return { kind: 'choice', values: kinds.flatMap((k) => (k.kind === 'choice' ? k.values : [])) };
      }
      return { kind: 'json', expect: kinds.every((k) => k.kind === 'json' && k.expect === 'a mapping') ? 'a mapping' : 'a value' };
    }
    case 'object':
      return { kind: 'json', expect: 'a mapping' };
    case 'array':
      return { kind: 'json', expect: 'a list' };
    default:
      return { kind: 'json', expect: 'a value' };
  }
}

const isScalar = (v: unknown): v is string | number | boolean =>
  typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';

/** How a level of the schema is entered: by key (mapping), by index (list), or not at all. */
export type Container =
  | { kind: 'mapping'; variants: Array<{ shape: Record<string, AnySchema>; tag?: string | number | boolean }>; discriminator?: string }
  | { kind: 'list'; element: AnySchema }
  | { kind: 'scalar' };

export function container(schema: AnySchema): Container {
  const s = unwrap(schema);
  const d = def(s);
  if (d.type === 'object' && d.shape) return { kind: 'mapping', variants: [{ shape: d.shape }] };
  if (d.type === 'array' && d.element) return { kind: 'list', element: d.element };
  if (d.type === 'union' && d.options) {
    const variants: Array<{ shape: Record<string, AnySchema>; tag?: string | number | boolean }> = [];
    for (const opt of d.options) {
      const od = def(unwrap(opt));
      if (od.type !== 'object' || !od.shape) return { kind: 'scalar' };
      let tag: string | number | boolean | undefined;
      if (d.discriminator && od.shape[d.discriminator]) {
        const k = leafKind(od.shape[d.discriminator]);
        if (k.kind === 'choice' && k.values.length === 1) tag = k.values[0];
      }
      variants.push({ shape: od.shape, tag });
    }
    return { kind: 'mapping', variants, discriminator: d.discriminator };
  }
  return { kind: 'scalar' };
}

/**
 * The variants of a mapping that apply to `data`: the one its discriminator names when it names
 * a known one, else all of them (the discriminator is missing or wrong and reported elsewhere).
 */
export function variantsFor(c: Extract<Container, { kind: 'mapping' }>, data: unknown): Array<Record<string, AnySchema>> {
  if (c.discriminator && isPlainObject(data)) {
    const tag = data[c.discriminator];
    const hit = c.variants.find((v) => v.tag !== undefined && v.tag === tag);
    if (hit) return [hit.shape];
  }
  return c.variants.map((v) => v.shape);
}

/** Key names valid at a mapping for `data`, in schema order, without duplicates. */
export function keysFor(c: Extract<Container, { kind: 'mapping' }>, data: unknown): string[] {
  return [...new Set(variantsFor(c, data).flatMap((shape) => Object.keys(shape)))];
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The schema at `path` inside `root`, following `data` to pick union variants; null if none. */
export function schemaAt(root: AnySchema, path: ReadonlyArray<PropertyKey>, data: unknown): AnySchema | null {
  let schema: AnySchema = root;
  let value: unknown = data;
  for (const seg of path) {
    const c = container(schema);
    if (c.kind === 'list' && typeof seg === 'number') {
      schema = c.element;
      value = Array.isArray(value) ? value[seg] : undefined;
    } else if (c.kind === 'mapping' && typeof seg === 'string') {
      const shape = variantsFor(c, value).find((sh) => Object.hasOwn(sh, seg));
      if (!shape) return null;
      schema = shape[seg];
      value = isPlainObject(value) ? value[seg] : undefined;
    } else {
      return null;
    }
  }
  return schema;
}

/** The input value at `path` (undefined when any level is missing). */
export function valueAt(data: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let v = data;
  for (const seg of path) {
    if (Array.isArray(v) && typeof seg === 'number') v = v[seg];
    else if (isPlainObject(v) && typeof seg === 'string' && Object.hasOwn(v, seg)) v = v[seg];
    else return undefined;
  }
  return v;
}
