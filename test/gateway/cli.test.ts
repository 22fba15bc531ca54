// `tpgw` as a real child process: configuration errors, a corrupt store, config tools.
import t from 'tap';
import { existsSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnGateway, writeConfig } from '../helpers/gateway-process.js';
import { freePort } from '../helpers/free-port.js';

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'tpgw-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('a bad config: exit 2, every problem by path, data directory untouched', async (t) => {
  const dir = tempDir(t);
  const dataDir = join(dir, 'data');
  const file = writeConfig(dir, {
    gateway: { id: 'bad id!', dataDir },
    clocks: [{ id: 'c1', driver: 'line' }, { id: 'c1', driver: 'lin', port: '/dev/x' }],
    sync: { batchMax: 0 },
  });
  const gw = spawnGateway(['run', '--config', file]);
  const exit = await gw.exited;
  t.equal(exit.code, 2, 'exit code 2');
  const out = gw.output();
  t.match(out, 'gateway.id:');
  t.match(out, 'clocks[0].port: required');
  t.match(out, 'clocks[1].driver');
  t.match(out, 'sync.batchMax');
  t.notOk(existsSync(dataDir), 'data directory not created');
});

t.test('a missing config file: exit 2 with the path named', async (t) => {
  const gw = spawnGateway(['run', '--config', '/nonexistent/tpgw.yaml']);
  t.equal((await gw.exited).code, 2);
  t.match(gw.output(), '/nonexistent/tpgw.yaml');
});

t.test('TPGW_CONFIG and env overrides are honoured; config check prints the redacted config', async (t) => {
  const dir = tempDir(t);
  const file = writeConfig(dir, { gateway: { id: 'g1', dataDir: join(dir, 'data') }, center: { mqtt: { password: 's3cret' } } });
  const gw = spawnGateway(['config', 'check'], { TPGW_CONFIG: file, TPGW_SYNC__BATCHMAX: '77' });
  t.equal((await gw.exited).code, 0);
  const cfg = JSON.parse(gw.output());
  t.equal(cfg.sync.batchMax, 77, 'env override applied');
  t.equal(cfg.center.mqtt.password, '***', 'secret redacted');
  t.notMatch(gw.output(), 's3cret');
});

t.test('config schema prints the JSON Schema', async (t) => {
  const gw = spawnGateway(['config', 'schema']);
  t.equal((await gw.exited).code, 0);
  const schema = JSON.parse(gw.output());
  t.ok(schema.properties.gateway, 'has gateway');
});

t.test('a corrupt database: exit 3, the file is kept byte for byte', async (t) => {
  const dir = tempDir(t);
  const dataDir = join(dir, 'data');
  const dbFile = join(dataDir, 'tpgw.db');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(dataDir, { recursive: true });
  const garbage = Buffer.from('SQLite format 3\0'.padEnd(4096, 'x'));
  writeFileSync(dbFile, garbage);
  const file = writeConfig(dir, { gateway: { id: 'g1', dataDir, timeSync: 'synced' }, http: { listen: `127.0.0.1:${await freePort()}` }, log: { level: 'error' } });
  const gw = spawnGateway(['run', '--config', file]);
  t.equal((await gw.exited).code, 3, 'exit code 3');
  t.match(gw.output(), /corrupt|not a database|malformed/i);
  t.same(readFileSync(dbFile), garbage, 'file untouched');
});
