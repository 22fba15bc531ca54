// The node flags and entry of gateway/launch.ts are the ones every launcher uses: the `tpgw`
// shebang, `npm start`, the systemd unit and the npm `bundle` script. The idle-RSS bench reads
// launch.ts, so this is what makes its figure the figure of the command the unit runs.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ENTRY, NODE_FLAGS } from '../../gateway/launch.js';
import { ROOT } from '../helpers/gateway-process.js';

const flags = NODE_FLAGS.join(' ');
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');

t.test('shebang, npm start, bin and the systemd unit use the same flags and entry', async (t) => {
  t.equal(read('gateway/cli.ts').split('\n')[0], `#!/usr/bin/env -S node ${flags}`, 'tpgw shebang');
  const pkg = JSON.parse(read('package.json'));
  t.equal(pkg.bin.tpgw, ENTRY, 'package.json bin');
  t.equal(pkg.scripts.start, `node ${flags} ${ENTRY} demo`, 'npm start');
  t.match(pkg.scripts.bundle, `${basename(ENTRY, '.js')}=gateway/cli.ts`, 'the bundle entry is the CLI');
  t.match(pkg.scripts.bundle, `--outdir=${dirname(ENTRY)} `, 'the bundle lands where ENTRY points');
  const unit = read('systemd/tpgw.service');
  t.match(unit, `\nExecStart=/usr/bin/node ${flags} /opt/tpgw/${ENTRY} run\n`, 'systemd ExecStart');
  t.match(unit, `\nExecStartPre=/usr/bin/node /opt/tpgw/${ENTRY} config check\n`, 'systemd ExecStartPre');
});

t.test('this node accepts every flag without a warning', async (t) => {
  const r = spawnSync(process.execPath, [...NODE_FLAGS, '-e', 'process.stdout.write("ok")'], { encoding: 'utf8' });
  t.equal(r.status, 0);
  t.equal(r.stdout, 'ok');
  t.equal(r.stderr, '', 'no "bad option" or V8 flag warning');
});
