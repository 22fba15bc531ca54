// ffmpeg/ffprobe resolution order: config → env → PATH → bundled npm package.
import t from 'tap';
import { chmodSync, mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveFfmpeg, resolveFfprobe, BinaryNotFoundError } from '../../streams/ffmpeg/resolve-binary.js';

const dir = mkdtempSync(join(tmpdir(), 'tpgw-bin-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** A fake tool printing "<name> version <v>" like ffmpeg does. */
function fake(sub: string, name: string, version: string): string {
  mkdirSync(join(dir, sub), { recursive: true });
  const p = join(dir, sub, name);
  writeFileSync(p, `#!/bin/sh\necho "${name} version ${version} Copyright (c) the FFmpeg developers"\n`);
  chmodSync(p, 0o755);
  return p;
}

const cfg = fake('cfg', 'ffmpeg', 'cfg-1');
const envBin = fake('env', 'ffmpeg', 'env-2');
fake('path', 'ffmpeg', 'path-3');
fake('path', 'ffprobe', 'path-probe-3');
const bundled = fake('bundled', 'ffmpeg', 'bundled-4');
const PATH = join(dir, 'path');

t.test('config wins over everything', async (t) => {
  const r = await resolveFfmpeg({ configured: cfg, env: { PATH, FFMPEG_PATH: envBin } });
  t.same(r, { path: cfg, source: 'config', version: 'cfg-1' });
});

t.test('then FFMPEG_PATH', async (t) => {
  const r = await resolveFfmpeg({ env: { PATH, FFMPEG_PATH: envBin } });
  t.same(r, { path: envBin, source: 'env', version: 'env-2' });
});

t.test('then PATH', async (t) => {
  const r = await resolveFfmpeg({ env: { PATH }, bundled: async () => bundled });
  t.same(r, { path: join(PATH, 'ffmpeg'), source: 'path', version: 'path-3' });
});

t.test('then the bundled npm package', async (t) => {
  const r = await resolveFfmpeg({ env: { PATH: join(dir, 'nothing') }, bundled: async () => bundled });
  t.same(r, { path: bundled, source: 'bundled', version: 'bundled-4' });
});

t.test('the real optional dependency, when installed, resolves and runs', async (t) => {
  const r = await resolveFfmpeg({ env: { PATH: join(dir, 'nothing') } }).catch((e: Error) => e);
  if (r instanceof BinaryNotFoundError) return t.pass('@ffmpeg-installer/ffmpeg not installed here');
  if (r instanceof Error) throw r;
  t.equal(r.source, 'bundled');
  t.match(r.version, /\S/);
});

t.test('ffprobe: config, env, PATH, then the bundled package; none at all is a clear error', async (t) => {
  const probeCfg = fake('cfg', 'ffprobe', 'cfg-p');
  t.equal((await resolveFfprobe({ configured: probeCfg, env: { PATH } })).source, 'config');
  t.equal((await resolveFfprobe({ env: { PATH, FFPROBE_PATH: probeCfg } })).source, 'env');
  t.same(await resolveFfprobe({ env: { PATH } }), { path: join(PATH, 'ffprobe'), source: 'path', version: 'path-probe-3' });
  t.equal((await resolveFfprobe({ env: { PATH: join(dir, 'nothing') }, bundled: async () => probeCfg })).source, 'bundled');
  await t.rejects(resolveFfprobe({ env: { PATH: join(dir, 'nothing') }, bundled: async () => null }), /ffprobe not found.*apt-get install -y ffmpeg/);
});

t.test('a configured binary that does not run is an error, not silently skipped', async (t) => {
  await t.rejects(resolveFfmpeg({ configured: join(dir, 'missing-ffmpeg'), env: { PATH } }), /from config/);
});
