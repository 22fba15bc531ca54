// loadConfig: YAML file + env overrides + zod defaults, every problem as `path: message`.
import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, loadConfigText, type LoadResult } from '../../config/load.js';

const errorsOf = (r: LoadResult): string[] => (r.ok ? [] : r.errors);
const configOf = (r: LoadResult) => {
  if (!r.ok) throw new Error(`expected ok, got errors:\n${r.errors.join('\n')}`);
  return r.config;
};

t.test('defaults are filled in for a minimal file', async (t) => {
  const dir = t.testdir({ 'c.yaml': 'gateway:\n  id: g1\n' });
  const r = loadConfig({ file: join(dir, 'c.yaml'), env: {} });
  const c = configOf(r);
  t.equal(c.gateway.id, 'g1');
  t.equal(c.gateway.dataDir, './data');
  t.equal(c.center.mqtt.url, 'mqtt://127.0.0.1:1883');
  t.equal(c.center.mqtt.topicPrefix, 'tpgw');
  t.equal(c.center.mqtt.keepalive, 30);
  t.equal(c.center.mqtt.protocolVersion, 5);
  t.equal(c.center.ackTimeoutSeconds, 30);
  t.same(c.sync, { batchMax: 500, lingerMs: 20, maxInflightBatches: 32, keepSettledDays: 90 });
  t.equal(c.http.listen, '127.0.0.1:8080');
  t.equal(c.http.token, undefined);
  t.same(c.clocks, []);
  t.equal(c.log.level, 'info');
  t.ok(r.ok && r.source === join(dir, 'c.yaml'), 'source is the resolved file path');
  t.match(r.ok && r.hash, /^[0-9a-f]{64}$/);
});

t.test('clock defaults are filled per driver', async (t) => {
  const c = configOf(
    loadConfigText('gateway: {id: g1}\nclocks:\n  - {id: a, driver: line, port: /dev/ttyUSB0}\n  - {id: b, driver: zk, host: 10.0.0.2}\n', { env: {} }),
  );
  t.match(c.clocks[0], { driver: 'line', baudRate: 9600, enabled: true, preset: 'default' });
  t.match(c.clocks[1], { driver: 'zk', port: 4370, transport: 'auto' });
});

t.test('the file comes from TPGW_CONFIG when opts.file is absent; opts.file wins', async (t) => {
  const dir = t.testdir({ 'a.yaml': 'gateway: {id: from-env}\n', 'b.yaml': 'gateway: {id: from-opts}\n' });
  t.equal(configOf(loadConfig({ env: { TPGW_CONFIG: join(dir, 'a.yaml') } })).gateway.id, 'from-env');
  t.equal(configOf(loadConfig({ file: join(dir, 'b.yaml'), env: { TPGW_CONFIG: join(dir, 'a.yaml') } })).gateway.id, 'from-opts');
});

t.test('no file at all: the config comes from env alone, source null', async (t) => {
  const r = loadConfig({ env: { TPGW_GATEWAY__ID: 'g1' } });
  t.equal(configOf(r).gateway.id, 'g1');
  t.equal(r.ok && r.source, null);
  t.same(errorsOf(loadConfig({ env: {} })), ['gateway.id: required']);
});

t.test('error cases, one line per problem, by path', async (t) => {
  const cases: Array<[string, string, string[]]> = [
    ['missing gateway.id', 'gateway: {name: x}\n', ['gateway.id: required']],
    ['empty file', '', ['gateway.id: required']],
    ['bad id pattern', 'gateway: {id: "no spaces"}\n', ['gateway.id: must be 1-64 characters of A-Z a-z 0-9 _ -']],
    ['id too long', `gateway: {id: ${'x'.repeat(65)}}\n`, ['gateway.id: must be 1-64 characters of A-Z a-z 0-9 _ -']],
    ['clock port required', 'gateway: {id: g}\nclocks:\n  - id: a\n    driver: line\n', ['clocks[0].port: required']],
    [
      'bad driver lists the options',
      'gateway: {id: g}\nclocks: [{id: a, driver: serial, port: /dev/x}]\n',
      ['clocks[0].driver: unknown driver "serial"; must be one of line, r30x, hid-wedge, zk'],
    ],
    ['missing driver', 'gateway: {id: g}\nclocks: [{id: a, port: /dev/x}]\n', ['clocks[0].driver: required (one of line, r30x, hid-wedge, zk)']],
    [
      'duplicate clock ids',
      'gateway: {id: g}\nclocks:\n  - {id: a, driver: line, port: /dev/x}\n  - {id: a, driver: line, port: /dev/y}\n',
      ['clocks[1].id: duplicate id "a"'],
    ],
    [
      'duplicate ids are reported together with other problems',
      'gateway: {id: g}\nclocks:\n  - {id: a, driver: line}\n  - {id: a, driver: line, port: /dev/y}\n',
      ['clocks[0].port: required', 'clocks[1].id: duplicate id "a"'],
    ],
    ['unknown top-level key', 'gateway: {id: g}\nmqtt: {url: x}\n', ['mqtt: unknown key']],
    ['unknown nested key with a suggestion', 'gateway: {id: g}\ncenter: {mqtt: {urll: "mqtt://x"}}\n', ['center.mqtt.urll: unknown key (did you mean "url"?)']],
    ['unknown key in a clock (strict variants)', 'gateway: {id: g}\nclocks: [{id: a, driver: zk, host: h, prot: 1}]\n', ['clocks[0].prot: unknown key (did you mean "port"?)']],
    ['unknown key in a camera', 'gateway: {id: g}\ncameras: [{id: a, rtsp: x}]\n', ['cameras[0].rtsp: unknown key']],
    ['wrong type', 'gateway: {id: g}\nsync: {batchMax: many}\n', ['sync.batchMax: expected a number, got a string']],
    ['unquoted numeric password', 'gateway: {id: g}\ncenter: {mqtt: {password: 1234}}\n', ['center.mqtt.password: expected a string, got a number (quote the value in YAML)']],
    ['literal union', 'gateway: {id: g}\ncenter: {mqtt: {protocolVersion: 3}}\n', ['center.mqtt.protocolVersion: must be one of 4, 5']],
    ['enum', 'gateway: {id: g}\nlog: {level: loud}\n', ['log.level: must be one of fatal, error, warn, info, debug, trace, silent']],
    ['section of the wrong type', 'gateway: {id: g}\nhttp: 8080\n', ['http: expected a mapping, got a number']],
  ];
  for (const [name, yaml, expected] of cases) {
    t.same(errorsOf(loadConfigText(yaml, { env: {}, source: 'c.yaml' })), expected, name);
  }
});

t.test('many problems are all listed at once', async (t) => {
  const errors = errorsOf(
    loadConfigText('gateway: {id: "a b"}\nclocks: [{id: x, driver: line}]\nlog: {level: loud}\nextra: 1\n', { env: {} }),
  );
  t.equal(errors.length, 4, errors.join('\n'));
});

t.test('error messages do not echo secret values', async (t) => {
  const errors = errorsOf(loadConfigText('gateway: {id: g}\ncenter: {mqtt: {password: 987654321}}\nhttp: {token: 5551234}\n', { env: {} }));
  t.equal(errors.length, 2);
  t.notMatch(errors.join('\n'), /987654321|5551234/);
});

t.test('YAML syntax errors are reported with line and column, not thrown', async (t) => {
  const r = loadConfigText('gateway:\n  id: g1\n  name: "unterminated\n', { env: {}, source: 'c.yaml' });
  t.same(errorsOf(r), ['c.yaml:4:1: Missing closing "quote']);
  t.match(errorsOf(loadConfigText('gateway: {id: g1}\ngateway: {id: g2}\n', { env: {}, source: 'c.yaml' })), [/^c\.yaml:2:1: Map keys must be unique/]);
  t.match(errorsOf(loadConfigText('gateway: [1, 2\nlog: x\n', { env: {}, source: 'c.yaml' })), [/^c\.yaml:\d+:\d+: /]);
  t.match(errorsOf(loadConfigText('- a\n- b\n', { env: {}, source: 'c.yaml' })), [/^c\.yaml: the top level must be a mapping/]);
  t.match(errorsOf(loadConfigText('gateway: !secret {id: g}\n', { env: {}, source: 'c.yaml' })), [/^c\.yaml:1:10: Unresolved tag: !secret/]);
});

t.test('YAML error messages do not show neighbouring lines (they may hold passwords)', async (t) => {
  const errors = errorsOf(loadConfigText('center:\n  mqtt:\n    password: "hunter2"\n  url: [\n', { env: {}, source: 'c.yaml' }));
  t.ok(errors.length > 0);
  t.notMatch(errors.join('\n'), /hunter2/);
});

t.test('a missing or unreadable file is an error, not a throw', async (t) => {
  const dir = t.testdir({ sub: {} });
  t.same(errorsOf(loadConfig({ file: join(dir, 'nope.yaml'), env: {} })), [`${join(dir, 'nope.yaml')}: cannot read config file (no such file)`]);
  t.same(errorsOf(loadConfig({ file: join(dir, 'sub'), env: {} })), [`${join(dir, 'sub')}: cannot read config file (it is a directory)`]);
});

t.test('loading never touches the data directory', async (t) => {
  const dir = t.testdir({});
  const dataDir = join(dir, 'data');
  const good = configOf(loadConfigText(`gateway: {id: g, dataDir: ${JSON.stringify(dataDir)}}\n`, { env: {} }));
  t.equal(good.gateway.dataDir, dataDir);
  t.notOk(loadConfigText(`gateway: {id: "bad id", dataDir: ${JSON.stringify(dataDir)}}\n`, { env: {} }).ok);
  t.notOk(existsSync(dataDir), 'dataDir was not created');
});

t.test('env overrides take precedence over the file', async (t) => {
  const dir = t.testdir({
    'c.yaml': 'gateway: {id: file-id}\ncenter: {mqtt: {url: "mqtt://file:1883", password: "from-file"}}\nsync: {batchMax: 10}\nclocks:\n  - {id: a, driver: line, port: /dev/ttyUSB0}\n',
  });
  const c = configOf(
    loadConfig({
      file: join(dir, 'c.yaml'),
      env: {
        TPGW_GATEWAY__ID: 'g1',
        TPGW_CENTER__MQTT__URL: 'mqtts://center.example:8883',
        TPGW_SYNC__BATCHMAX: '100',
        TPGW_CLOCKS__0__PORT: '/dev/ttyUSB1',
        TPGW_CONFIG: '/ignored/because/opts.file/is/given',
        TPGW_LOG_PRETTY: '1',
        PATH: '/usr/bin',
      },
    }),
  );
  t.equal(c.gateway.id, 'g1');
  t.equal(c.center.mqtt.url, 'mqtts://center.example:8883');
  t.equal(c.center.mqtt.password, 'from-file', 'keys not overridden keep the file value');
  t.equal(c.sync.batchMax, 100);
  t.match(c.clocks[0], { id: 'a', driver: 'line', port: '/dev/ttyUSB1' });
});

t.test('env overrides are validated like the file', async (t) => {
  t.same(errorsOf(loadConfigText('gateway: {id: g}\n', { env: { TPGW_SYNC__BATCHMAX: '0' } })), ['sync.batchMax: must be at least 1']);
  t.same(errorsOf(loadConfigText('gateway: {id: g}\n', { env: { TPGW_GATEWAY__ID: 'bad id' } })), ['gateway.id: must be 1-64 characters of A-Z a-z 0-9 _ -']);
});

t.test('the hash is stable across key order and formatting, and changes with the config', async (t) => {
  const a = loadConfigText('gateway: {id: g}\nsync: {batchMax: 7, lingerMs: 5}\n', { env: {} });
  const b = loadConfigText('sync:\n  lingerMs: 5\n  batchMax: 7\ngateway:\n  id: g\n', { env: {} });
  const c = loadConfigText('gateway: {id: g}\nsync: {batchMax: 8, lingerMs: 5}\n', { env: {} });
  const d = loadConfigText('gateway: {id: g}\n', { env: { TPGW_SYNC__BATCHMAX: '7', TPGW_SYNC__LINGERMS: '5' } });
  t.ok(a.ok && b.ok && c.ok && d.ok);
  if (a.ok && b.ok && c.ok && d.ok) {
    t.equal(a.hash, b.hash);
    t.equal(a.hash, d.hash, 'the same effective config from env hashes the same');
    t.not(a.hash, c.hash);
  }
});

t.test('range and emptiness messages', async (t) => {
  t.same(errorsOf(loadConfigText('gateway: {id: g}\nsync: {batchMax: 20000}\ncenter: {ackTimeoutSeconds: 0}\nclocks: [{id: a, driver: line, port: ""}]\n', { env: {} })), [
    'center.ackTimeoutSeconds: must be greater than 0',
    'sync.batchMax: must be at most 10000',
    'clocks[0].port: must not be empty',
  ]);
  t.same(errorsOf(loadConfigText('gateway: {id: g}\nsync: {batchMax: 1.5}\n', { env: {} })), ['sync.batchMax: must be a whole number']);
});
