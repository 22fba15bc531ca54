// Renders a config path the way a person reads it in YAML: `clocks[0].port`.
export type ConfigPath = ReadonlyArray<PropertyKey>;

export function formatPath(path: ConfigPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out === '' ? '(top level)' : out;
}
