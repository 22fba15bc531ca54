// TPGW_* environment overrides: name matching, coercion to the schema's leaf type, and errors
// for every name that is not a config key (a typo must not be silently ignored).
import t from 'tap';
import { loadConfigText, type LoadResult } from '../../config/load.js';
import { NON_CONFIG_ENV } from '../../config/env-overrides.js';

const base = 'gateway: {id: g}\n';
const load = (env: Record<string, string>, yaml = base) => loadConfigText(yaml, { env });
const errorsOf = (r: LoadResult): string[] => (r.ok ? [] : r.errors);
const configOf = (r: LoadResult) => {
  if (!r.ok) throw new Error(`expected ok, got errors:\n${r.errors.join('\n')}`);
  return r.config;
};

t.test('values are coerced to the type of the schema leaf', async (t) => {
  const c = configOf(
    load({
      TPGW_CENTER__MQTT__PASSWORD: '1234', // looks like a number, must stay a string
      TPGW_CENTER__MQTT__USERNAME: 'true', // looks like a boolean, must stay a string
      TPGW_HTTP__TOKEN: '0012',
      TPGW_SYNC__BATCHMAX: '100',
      TPGW_CENTER__ACKTIMEOUTSECONDS: '2.5',
      TPGW_CENTER__MQTT__KEEPALIVE: ' 60 ',
      TPGW_CENTER__MQTT__REJECTUNAUTHORIZED: 'false',
      TPGW_CENTER__MQTT__PROTOCOLVERSION: '4',
      TPGW_LOG__LEVEL: 'debug',
    }),
  );
  t.equal(c.center.mqtt.password, '1234');
  t.equal(c.center.mqtt.username, 'true');
  t.equal(c.http.token, '0012');
  t.equal(c.sync.batchMax, 100);
  t.equal(c.center.ackTimeoutSeconds, 2.5);
  t.equal(c.center.mqtt.keepalive, 60);
  t.equal(c.center.mqtt.rejectUnauthorized, false);
  t.equal(c.center.mqtt.protocolVersion, 4);
  t.equal(c.log.level, 'debug');
});

t.test('booleans accept true/false, 1/0, yes/no, on/off in any case', async (t) => {
  for (const [raw, want] of [['TRUE', true], ['1', true], ['yes', true], ['On', true], ['false', false], ['0', false], ['NO', false], ['off', false]] as const) {
    t.equal(configOf(load({ TPGW_CENTER__MQTT__REJECTUNAUTHORIZED: raw })).center.mqtt.rejectUnauthorized, want, raw);
  }
});

t.test('numbers accept hex (USB ids) and reject text', async (t) => {
  const c = configOf(
    load({ TPGW_CLOCKS__0__ID: 'card', TPGW_CLOCKS__0__DRIVER: 'hid-wedge', TPGW_CLOCKS__0__VENDORID: '0xffff', TPGW_CLOCKS__0__PRODUCTID: '53' }),
  );
  t.match(c.clocks[0], { driver: 'hid-wedge', vendorId: 0xffff, productId: 53 });
  t.same(errorsOf(load({ TPGW_SYNC__BATCHMAX: 'lots' })), ['TPGW_SYNC__BATCHMAX (sync.batchMax): expected a number, got "lots"']);
  t.same(errorsOf(load({ TPGW_SYNC__BATCHMAX: '' })), ['TPGW_SYNC__BATCHMAX (sync.batchMax): expected a number, got ""']);
  t.same(errorsOf(load({ TPGW_SYNC__BATCHMAX: 'Infinity' })), ['TPGW_SYNC__BATCHMAX (sync.batchMax): expected a number, got "Infinity"']);
  t.same(errorsOf(load({ TPGW_CENTER__MQTT__REJECTUNAUTHORIZED: 'maybe' })), [
    'TPGW_CENTER__MQTT__REJECTUNAUTHORIZED (center.mqtt.rejectUnauthorized): expected true or false, got "maybe"',
  ]);
  t.same(errorsOf(load({ TPGW_LOG__LEVEL: 'loud' })), ['TPGW_LOG__LEVEL (log.level): must be one of fatal, error, warn, info, debug, trace, silent, got "loud"']);
});

t.test('names match keys case-insensitively, with or without underscores inside a level', async (t) => {
  const c = configOf(load({ TPGW_SYNC__BATCH_MAX: '5', TPGW_SYNC__lingerms: '7', TPGW_Center__Mqtt__TopicPrefix: 'x' }));
  t.equal(c.sync.batchMax, 5);
  t.equal(c.sync.lingerMs, 7);
  t.equal(c.center.mqtt.topicPrefix, 'x');
});

t.test('list items by index: override an item of the file, or build items from env alone', async (t) => {
  const fromFile = configOf(
    load({ TPGW_CLOCKS__0__PORT: '/dev/ttyUSB1', TPGW_CLOCKS__1__BAUDRATE: '19200' }, `${base}clocks:\n  - {id: a, driver: line, port: /dev/ttyUSB0}\n  - {id: b, driver: r30x, port: /dev/ttyAMA0}\n`),
  );
  t.match(fromFile.clocks, [{ id: 'a', port: '/dev/ttyUSB1' }, { id: 'b', baudRate: 19200 }]);

  const envOnly = configOf(
    load({
      TPGW_CLOCKS__1__ID: 'zk1',
      TPGW_CLOCKS__1__DRIVER: 'zk',
      TPGW_CLOCKS__1__HOST: '10.0.0.9',
      TPGW_CLOCKS__1__PORT: '4371', // a number for zk, a string for line: decided by the driver
      TPGW_CLOCKS__0__ID: 'line1',
      TPGW_CLOCKS__0__PORT: '/dev/ttyUSB0',
      TPGW_CLOCKS__0__DRIVER: 'line',
    }),
  );
  t.match(envOnly.clocks, [{ id: 'line1', driver: 'line', port: '/dev/ttyUSB0' }, { id: 'zk1', driver: 'zk', host: '10.0.0.9', port: 4371 }]);
});

t.test('list items must be added in order', async (t) => {
  t.same(errorsOf(load({ TPGW_CLOCKS__2__ID: 'x', TPGW_CLOCKS__2__DRIVER: 'line', TPGW_CLOCKS__2__PORT: '/dev/x' })), [
    'TPGW_CLOCKS__2__DRIVER: clocks has 0 item(s); add items in order (next index is 0)',
    'TPGW_CLOCKS__2__ID: clocks has 0 item(s); add items in order (next index is 0)',
    'TPGW_CLOCKS__2__PORT: clocks has 0 item(s); add items in order (next index is 0)',
  ]);
  t.same(errorsOf(load({ TPGW_CLOCKS__X__ID: 'a' })), ['TPGW_CLOCKS__X__ID: clocks is a list; expected an item index, got "X"']);
});

t.test('a key whose type depends on an unset driver is an error, not a guess', async (t) => {
  t.same(errorsOf(load({ TPGW_CLOCKS__0__PORT: '4370', TPGW_CLOCKS__0__ID: 'a' })), [
    'TPGW_CLOCKS__0__PORT: the type of clocks[0].port depends on clocks[0].driver, which is not set',
    'clocks[0].driver: required (one of line, r30x, hid-wedge, zk)',
  ]);
  t.same(errorsOf(load({ TPGW_CLOCKS__0__DRIVER: 'serial' })), ['TPGW_CLOCKS__0__DRIVER (clocks[0].driver): must be one of line, r30x, hid-wedge, zk, got "serial"']);
});

t.test('mappings and lists take JSON text', async (t) => {
  const c = configOf(
    load({
      TPGW_CLOCKS: JSON.stringify([{ id: 'a', driver: 'line', port: '/dev/ttyS0' }]),
      TPGW_CLOCKS__0__BAUDRATE: '4800', // applied after the whole list
      TPGW_HTTP: '{"listen":"0.0.0.0:9000"}',
    }),
  );
  t.match(c.clocks, [{ id: 'a', port: '/dev/ttyS0', baudRate: 4800 }]);
  t.equal(c.http.listen, '0.0.0.0:9000');
  const bad = errorsOf(load({ TPGW_CAMERAS: '[{"id":"c","onvif":{"password":"s3cret"' }));
  t.same(bad, ['TPGW_CAMERAS (cameras): expected JSON text (a list)']);
  t.same(errorsOf(load({ TPGW_HTTP: '[1]' })), ['http: expected a mapping, got a list']);
});

t.test('unknown TPGW_* names are errors; the allowlist and other variables are not', async (t) => {
  t.same(errorsOf(load({ TPGW_SYNC__BATCHMX: '1' })), ['TPGW_SYNC__BATCHMX: unknown setting "BATCHMX" in sync (valid: batchMax, lingerMs, maxInflightBatches, keepSettledDays)']);
  t.match(errorsOf(load({ TPGW_LOG_LEVEL: 'debug' })), [/^TPGW_LOG_LEVEL: unknown setting "LOG_LEVEL" at the top level .*levels are separated by two underscores: TPGW_LOG__LEVEL$/]);
  t.same(errorsOf(load({ TPGW_GATEWAY__ID__X: 'a' })), ['TPGW_GATEWAY__ID__X: gateway.id is a single value and has no "X"']);
  t.same(errorsOf(load({ TPGW_CLOCKS__0__DRIVER__X: 'line' })), ['TPGW_CLOCKS__0__DRIVER__X: clocks[0].driver is a single value and has no "X"']);
  t.same(errorsOf(load({ TPGW_SYNC___BATCHMAX: '1' })), ['TPGW_SYNC___BATCHMAX: malformed override name (levels are separated by exactly two underscores, e.g. TPGW_CENTER__MQTT__URL)']);
  t.same(errorsOf(load({ TPGW_: '1' })), ['TPGW_: malformed override name (levels are separated by exactly two underscores, e.g. TPGW_CENTER__MQTT__URL)']);
  t.same(errorsOf(load({ TPGW_SYNC____BATCHMAX: '1' })), ['TPGW_SYNC____BATCHMAX: malformed override name (levels are separated by exactly two underscores, e.g. TPGW_CENTER__MQTT__URL)']);
  t.same(errorsOf(load({ TPGW___PROTO__: '{}' })), ['TPGW___PROTO__: malformed override name (levels are separated by exactly two underscores, e.g. TPGW_CENTER__MQTT__URL)']);
  t.ok(NON_CONFIG_ENV.has('TPGW_CONFIG') && NON_CONFIG_ENV.has('TPGW_LOG_PRETTY'));
  t.ok(load({ TPGW_CONFIG: '/somewhere.yaml', TPGW_LOG_PRETTY: '1', HOME: '/root', tpgw_lowercase: 'x' }).ok);
});

t.test('several bad overrides are all reported, together with schema problems', async (t) => {
  const errors = errorsOf(load({ TPGW_SYNC__BATCHMAX: 'x', TPGW_NOPE: '1', TPGW_GATEWAY__ID: 'bad id' }));
  t.same(errors, [
    'TPGW_NOPE: unknown setting "NOPE" at the top level (valid: gateway, center, sync, http, clocks, cameras, ffmpeg, recordings, snapshots, log)',
    'TPGW_SYNC__BATCHMAX (sync.batchMax): expected a number, got "x"',
    'gateway.id: must be 1-64 characters of A-Z a-z 0-9 _ -',
  ]);
});

t.test('a file whose section is not a mapping cannot be overridden into', async (t) => {
  t.match(errorsOf(load({ TPGW_SYNC__BATCHMAX: '1' }, `${base}sync: 5\n`)), ['TPGW_SYNC__BATCHMAX: sync in the config file is not a mapping', 'sync: expected a mapping, got a number']);
});
