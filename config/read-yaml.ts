// Parses the text of a config file. YAML problems come back as `file:line:col: message` errors,
// never as exceptions, and only the first line of the parser's message is kept: the code frame
// it appends could show a neighbouring line holding a password.
import { parseDocument } from 'yaml';

export type YamlResult = { ok: true; value: Record<string, unknown> } | { ok: false; errors: string[] };

export function parseConfigYaml(text: string, source: string): YamlResult {
  let doc;
  try {
    doc = parseDocument(text.replace(/^\uFEFF/, ''), { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    return { ok: false, errors: [`${source}: cannot parse YAML: ${firstLine(err)}`] };
  }
  // Warnings (unresolved tags and the like) are errors too: a config must mean one thing.
  const problems = [...doc.errors, ...doc.warnings];
  if (problems.length > 0) {
    return {
      ok: false,
      errors: problems.map((e) => {
        const pos = e.linePos?.[0];
        const where = pos ? `${source}:${pos.line}:${pos.col}` : source;
        return `${where}: ${firstLine(e).replace(/ at line \d+, column \d+:?$/, '')}`;
      }),
    };
  }
  let value: unknown;
  try {
    // maxAliasCount bounds "billion laughs" alias expansion.
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    return { ok: false, errors: [`${source}: ${firstLine(err)}`] };
  }
  if (value === null || value === undefined) return { ok: true, value: {} }; // empty file
  if (typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, errors: [`${source}: the top level must be a mapping of keys (gateway:, center:, ...), got ${Array.isArray(value) ? 'a list' : typeof value}`] };
  }
  return { ok: true, value: value as Record<string, unknown> };
}

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0].trim();
}
