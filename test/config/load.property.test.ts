// Property: whatever text the config file holds and whatever TPGW_* variables are set,
// loadConfig returns either a valid config or a list of errors. It never throws.
import t from 'tap';
import fc from 'fast-check';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadConfig, loadConfigText, type LoadResult } from '../../config/load.js';
import { configSchema } from '../../config/schema.js';
import { configHash } from '../../config/config-hash.js';
import { redactConfig } from '../../config/redact.js';

const KEYS = [
  'gateway', 'id', 'name', 'dataDir', 'center', 'mqtt', 'url', 'username', 'password', 'clientId', 'ca', 'cert', 'key',
  'topicPrefix', 'keepalive', 'protocolVersion', 'ackTimeoutSeconds', 'sync', 'batchMax', 'lingerMs', 'maxInflightBatches',
  'http', 'listen', 'token', 'clocks', 'driver', 'port', 'baudRate', 'host', 'vendorId', 'cameras', 'onvif', 'rtspUrl',
  'log', 'level', 'recordings', '__proto__', 'constructor', 'toString',
];
const SCALARS = ['g1', 'line', 'zk', 'r30x', 'hid-wedge', '1234', '"1234"', "'x'", '0x1f', '-1', '1e309', '.nan', '.inf', 'true', 'null', '~', '""', 'mqtt://h:1', '/dev/ttyUSB0', 'info', '4', '5'];
const PUNCT = [':', '- ', '[', ']', '{', '}', ',', '&a ', '*a', '!!str ', '!!binary ', '!x ', '|', '>-', '# c', '---', '...', '%YAML 1.2', '? ', '"', "'", '\t', '\\', '<<: *a'];

const token = fc.oneof(fc.constantFrom(...KEYS), fc.constantFrom(...SCALARS), fc.constantFrom(...PUNCT), fc.string({ maxLength: 6 }));
const line = fc
  .tuple(fc.nat({ max: 8 }), fc.array(token, { maxLength: 6 }), fc.constantFrom(' ', ''))
  .map(([indent, toks, sep]) => ' '.repeat(indent) + toks.join(sep));
const yamlLines = fc.array(line, { maxLength: 20 }).map((ls) => ls.join('\n'));

// Near-valid documents: a random object tree shaped like a config, dumped and then damaged.
const leaf = fc.oneof(fc.constantFrom(...SCALARS), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.string({ maxLength: 12 }));
const tree = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('node'), { maxLength: 3 }), fc.dictionary(fc.constantFrom(...KEYS), tie('node'), { maxKeys: 4 })),
})).node;
const configLike = fc.record(
  { gateway: fc.record({ id: fc.oneof(fc.constant('g1'), fc.string({ maxLength: 70 })) }, { requiredKeys: [] }), clocks: fc.array(tree, { maxLength: 3 }), center: tree, sync: tree },
  { requiredKeys: [] },
);
const damaged = fc
  .tuple(configLike, fc.nat(), fc.nat(), fc.string({ maxLength: 5 }))
  .map(([obj, cut, at, junk]) => {
    const text = stringify(obj);
    const a = at % (text.length + 1);
    const c = Math.max(a, cut % (text.length + 1));
    return (text.slice(0, a) + junk + text.slice(a)).slice(0, c); // insert junk, then truncate
  });

// Valid documents, so the success path (defaults, hash, env on top) is exercised too.
const valid = fc
  .record({
    gateway: fc.record({ id: fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/) }),
    sync: fc.record({ batchMax: fc.integer({ min: 1, max: 10000 }), lingerMs: fc.nat() }, { requiredKeys: [] }),
    clocks: fc.uniqueArray(
      fc.record({ id: fc.stringMatching(/^[a-z0-9]{1,8}$/), driver: fc.constant('line'), port: fc.constantFrom('/dev/ttyUSB0', 'sim:a', '1234') }),
      { selector: (c) => c.id, maxLength: 3 },
    ),
  })
  .map((o) => stringify(o));

const yamlish = fc.oneof(yamlLines, damaged, valid, configLike.map((o) => stringify(o)), fc.string({ unit: 'binary', maxLength: 200 }));

const SEGS = ['GATEWAY', 'ID', 'CENTER', 'MQTT', 'URL', 'PASSWORD', 'SYNC', 'BATCHMAX', 'BATCH_MAX', 'CLOCKS', 'CAMERAS', 'DRIVER', 'PORT', 'HOST', 'LOG', 'LEVEL', 'HTTP', 'ONVIF', '0', '1', '7', '99999999999', 'X', '', '_', '__PROTO__', 'constructor'];
const envName = fc.oneof(
  fc.array(fc.oneof(fc.constantFrom(...SEGS), fc.string({ maxLength: 4 })), { minLength: 1, maxLength: 5 }).map((segs) => `TPGW_${segs.join('__')}`),
  fc.constantFrom('TPGW_CONFIG_X', 'TPGW_LOG_PRETTY', 'TPGW_', 'TPGW', 'PATH', 'tpgw_gateway__id'),
);
const envValue = fc.oneof(fc.constantFrom(...SCALARS, '[]', '{}', '[{"id":"a","driver":"line","port":"/dev/x"}]', 'on', 'off', ''), fc.string({ maxLength: 20 }), fc.json({ maxDepth: 2 }));
const goodEnv = fc.dictionary(
  fc.constantFrom('TPGW_SYNC__LINGERMS', 'TPGW_CENTER__MQTT__PASSWORD', 'TPGW_HTTP__TOKEN', 'TPGW_LOG__LEVEL', 'TPGW_LOG_PRETTY', 'TPGW_CENTER__MQTT__KEEPALIVE'),
  fc.constantFrom('1', '20', 'debug', 'info'),
  { maxKeys: 3 },
);
const envMap = fc.oneof(fc.dictionary(envName, envValue, { maxKeys: 6 }), goodEnv, fc.constant({}));

function checkResult(r: LoadResult): boolean {
  if (r.ok) {
    // The effective config is itself a valid input, and the hash is its canonical hash (secrets redacted).
    const again = configSchema.safeParse(r.config);
    return again.success && /^[0-9a-f]{64}$/.test(r.hash) && configHash(redactConfig(again.data)) === r.hash;
  }
  return Array.isArray(r.errors) && r.errors.length > 0 && r.errors.every((e) => typeof e === 'string' && e.length > 0);
}

t.test('random YAML-ish text and env maps: never throws, always ok or errors', async (t) => {
  fc.assert(
    fc.property(yamlish, envMap, (text, env) => {
      const r = loadConfigText(text, { env, source: 'p.yaml' });
      return checkResult(r);
    }),
    { numRuns: 1000 },
  );
  t.pass('1000 random inputs handled');
});

t.test('the same through a real file', async (t) => {
  const dir = t.testdir({});
  const file = join(dir, 'c.yaml');
  fc.assert(
    fc.property(yamlish, envMap, (text, env) => {
      writeFileSync(file, text);
      return checkResult(loadConfig({ file, env }));
    }),
    { numRuns: 200 },
  );
  t.pass('200 random files handled');
});

t.test('a string override is kept verbatim whatever it looks like', async (t) => {
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.constantFrom('1234', '0012', 'true', 'null', '1e3', ' 7 ', '[1]', '{}')), (s) => {
      const r = loadConfigText('gateway: {id: g}\n', { env: { TPGW_CENTER__MQTT__PASSWORD: s, TPGW_HTTP__TOKEN: s } });
      return r.ok && r.config.center.mqtt.password === s && r.config.http.token === s;
    }),
  );
  t.pass();
});

t.test('a number override of an integer key round-trips', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 10000 }), (n) => {
      const r = loadConfigText('gateway: {id: g}\n', { env: { TPGW_SYNC__BATCHMAX: String(n) } });
      return r.ok && r.config.sync.batchMax === n;
    }),
  );
  t.pass();
});
