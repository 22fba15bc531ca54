// config/config.schema.json (what editors validate YAML with) must equal what the zod schema
// generates, and the example configs must pass both validators.
import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { configJsonSchema, configJsonSchemaText } from '../../config/json-schema.js';
import { loadConfig } from '../../config/load.js';

const schemaFile = fileURLToPath(new URL('../../config/config.schema.json', import.meta.url));
const examplesDir = fileURLToPath(new URL('../../config/examples/', import.meta.url));
const examples = readdirSync(examplesDir).filter((f) => f.endsWith('.yaml'));

t.test('the checked-in config.schema.json matches the zod schema', async (t) => {
  const checkedIn = readFileSync(schemaFile, 'utf8');
  t.ok(checkedIn === configJsonSchemaText(), 'config/config.schema.json is stale: run `npm run schema` and commit the result');
});

t.test('the generated schema is draft 2020-12 and rejects unknown keys', async (t) => {
  const schema = configJsonSchema();
  t.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
  t.match(schema, { $id: String, title: String, description: String, type: 'object', required: ['gateway'], additionalProperties: false });
  const validate = new Ajv2020({ allErrors: true }).compile(schema);
  t.ok(validate({ gateway: { id: 'g1' } }));
  t.notOk(validate({ gateway: { id: 'g1' }, mqtt: {} }), 'unknown top-level key');
  t.notOk(validate({ gateway: { id: 'g1' }, clocks: [{ id: 'a', driver: 'line', port: '/dev/x', prot: 1 }] }), 'unknown key in a clock');
  t.notOk(validate({ gateway: { id: 'g1' }, clocks: [{ id: 'a', driver: 'line' }] }), 'clock port required');
  t.notOk(validate({ gateway: { id: 'bad id' } }), 'id pattern');
  t.notOk(validate({}), 'gateway required');
});

t.test('examples exist, start with the schema modeline, and validate with ajv and zod', async (t) => {
  t.ok(examples.includes('minimal.yaml') && examples.includes('classroom.yaml'), examples.join(', '));
  const validate = new Ajv2020({ allErrors: true }).compile(JSON.parse(readFileSync(schemaFile, 'utf8')));
  for (const file of examples) {
    const text = readFileSync(examplesDir + file, 'utf8');
    t.equal(text.split('\n')[0], '# yaml-language-server: $schema=../config.schema.json', `${file} modeline`);
    t.ok(validate(parse(text)), `${file} valid against config.schema.json: ${JSON.stringify(validate.errors)}`);
    const r = loadConfig({ file: examplesDir + file, env: {} });
    t.ok(r.ok, `${file} valid with zod: ${r.ok ? '' : r.errors.join('; ')}`);
  }
});

t.test('the classroom example covers every clock driver and two cameras', async (t) => {
  const r = loadConfig({ file: `${examplesDir}classroom.yaml`, env: {} });
  if (!r.ok) throw new Error(r.errors.join('\n'));
  t.same(r.config.clocks.map((c) => c.driver).sort(), ['hid-wedge', 'line', 'r30x', 'zk']);
  t.equal(r.config.cameras.length, 2);
  t.match(r.config.center.mqtt.url, /^mqtts:\/\//);
  t.match(r.config.clocks.find((c) => c.driver === 'line'), { port: /^\/dev\/serial\/by-id\// });
  t.type(r.config.http.token, 'string');
});
