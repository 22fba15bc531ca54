// Turns zod issues into one line per problem, `path: message`, phrased for someone editing YAML:
// `clocks[0].port: required`, `clocks[1].driver: unknown driver "lin"; must be one of line, ...`.
// Input values are only echoed for discriminators (driver names), never for other keys, so a
// misplaced password cannot reach a log through an error message.
import type { z } from 'zod';
import { formatPath } from './format-path.js';
import { container, keysFor, schemaAt, valueAt } from './schema-walk.js';

type Issue = z.core.$ZodIssue;

export function formatIssues(issues: readonly Issue[], input: unknown, schema: z.core.$ZodType): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      const valid = validKeys(schema, issue.path, input);
      for (const key of issue.keys) {
        const hint = suggest(key, valid);
        lines.push(`${formatPath([...issue.path, key])}: unknown key${hint ? ` (did you mean "${hint}"?)` : ''}`);
      }
      continue;
    }
    if (issue.code === 'invalid_type' && valueAt(input, issue.path) === undefined) {
      // A whole missing section: name the keys it needs (`gateway.id: required`), which is
      // what the user has to write, rather than `gateway: required`.
      const needed = requiredKeys(schema, issue.path, input);
      if (needed.length > 0) {
        for (const key of needed) lines.push(`${formatPath([...issue.path, key])}: required`);
        continue;
      }
    }
    lines.push(`${formatPath(issue.path)}: ${describe(issue, input)}`);
  }
  return [...new Set(lines)];
}

function describe(issue: Issue, input: unknown): string {
  const value = valueAt(input, issue.path);
  switch (issue.code) {
    case 'invalid_type':
      if (value === undefined) return 'required';
      if (issue.expected === 'string' && (typeof value === 'number' || typeof value === 'boolean')) {
        return `expected a string, got a ${typeof value} (quote the value in YAML)`;
      }
      if (issue.expected === 'int' && typeof value === 'number') return 'must be a whole number';
      return `expected ${issue.expected === 'int' ? 'a whole number' : article(issue.expected)}, got ${kindOf(value)}`;
    case 'invalid_union': {
      if ('discriminator' in issue && issue.discriminator) {
        const options = ((issue as { options?: unknown[] }).options ?? []).map(String).join(', ');
        if (value === undefined) return `required (one of ${options})`;
        const shown = typeof value === 'string' && value.length <= 40 ? JSON.stringify(value) : kindOf(value);
        return `unknown ${issue.discriminator} ${shown}; must be one of ${options}`;
      }
      if (value === undefined) return 'required';
      // A union of literals (protocolVersion: 4 | 5) fails with one invalid_value per option.
      const literals = issue.errors.flat();
      if (literals.length > 0 && literals.every((e) => e.code === 'invalid_value' && e.path.length === 0)) {
        return `must be one of ${literals.flatMap((e) => (e.code === 'invalid_value' ? e.values : [])).map(String).join(', ')}`;
      }
      return 'does not match any of the allowed forms';
    }
    case 'invalid_value':
      if (value === undefined) return 'required';
      return issue.values.length === 1 ? `must be ${String(issue.values[0])}` : `must be one of ${issue.values.map(String).join(', ')}`;
    case 'too_small':
      if (issue.origin === 'string' && Number(issue.minimum) === 1) return 'must not be empty';
      if (issue.origin === 'number') return `must be ${issue.inclusive ? 'at least' : 'greater than'} ${String(issue.minimum)}`;
      return issue.message;
    case 'too_big':
      if (issue.origin === 'number') return `must be ${issue.inclusive ? 'at most' : 'less than'} ${String(issue.maximum)}`;
      return issue.message;
    default:
      return issue.message.replace(/^Invalid input: /, '');
  }
}

function requiredKeys(schema: z.core.$ZodType, path: readonly PropertyKey[], input: unknown): string[] {
  const at = schemaAt(schema, path, input);
  if (!at) return [];
  const c = container(at);
  if (c.kind !== 'mapping' || c.variants.length !== 1) return [];
  const shape = c.variants[0].shape;
  // optin is zod's marker for "may be absent on input" (set by optional, default, prefault).
  return Object.keys(shape).filter((k) => shape[k]._zod.optin === undefined);
}

function validKeys(schema: z.core.$ZodType, path: readonly PropertyKey[], input: unknown): string[] {
  const at = schemaAt(schema, path, input);
  if (!at) return [];
  const c = container(at);
  return c.kind === 'mapping' ? keysFor(c, valueAt(input, path)) : [];
}

/** The valid key closest to a typo (case slips and up to two edits), if any. */
function suggest(key: string, valid: string[]): string | undefined {
  let best: string | undefined;
  let bestDist = 3;
  for (const v of valid) {
    const d = v.toLowerCase() === key.toLowerCase() ? 0 : editDistance(key.toLowerCase(), v.toLowerCase());
    if (d < bestDist) [best, bestDist] = [v, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2 || a.length > 64 || b.length > 64) return 99;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length];
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return article(typeof v);
}

function article(type: string): string {
  if (type === 'object') return 'a mapping';
  if (type === 'array') return 'a list';
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}
