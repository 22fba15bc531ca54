// `npm run bench`: every figure printed beside the raw limit measured in the same run on the
// same machine, so a shared, noisy box still yields meaningful ratios.
import { benchSync } from './sync-bench.js';
import { benchGatewayRss } from './gateway-rss.js';
import { benchStreams } from './streams-bench.js';

type Figures = Record<string, number | string>;

function print(title: string, f: Figures): void {
  process.stdout.write(`\n## ${title}\n`);
  const width = Math.max(...Object.keys(f).map((k) => k.length));
  for (const [k, v] of Object.entries(f)) {
    const val = typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : v;
    process.stdout.write(`${k.padEnd(width)}  ${val}\n`);
  }
}

const only = process.argv[2];
const suites: [string, () => Promise<Figures>][] = [
  ['sync: durable ingest and backlog drain', benchSync],
  ['gateway: idle memory', () => benchGatewayRss()],
  ['streams: recording 4 simulated 1080p cameras', benchStreams],
];
for (const [name, fn] of suites) {
  if (only && !name.startsWith(only)) continue;
  try {
    print(name, await fn());
  } catch (err) {
    print(name, { error: (err as Error).message });
    process.exitCode = 1;
  }
}
