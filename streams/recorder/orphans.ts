// Recorders left behind by a gateway that died hard (SIGKILL, OOM kill): ffmpeg does not die
// with its parent — it ignores the broken progress pipe and keeps recording into .partial/
// (measured). Before start-up reconciliation these orphans are asked to finish (SIGTERM makes
// ffmpeg close its segment properly), then killed after the grace period, so that their last
// segment is complete and no two recorders ever write for the same camera.
// Linux only (/proc); elsewhere nothing is found. Under systemd (KillMode=control-group) the
// unit's restart already kills them; this covers manual runs and other supervisors.
import { readdir, readFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';

export interface OrphanProcess {
  pid: number;
  /** The partial-output pattern it writes to. */
  output: string;
}

/** ffmpeg processes (not ours) writing into <recordingsDir>/<camera>/.partial/. */
export async function findOrphanRecorders(recordingsDir: string): Promise<OrphanProcess[]> {
  const root = resolve(recordingsDir) + '/';
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return [];
  }
  const found: OrphanProcess[] = [];
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    let argv: string[];
    try {
      argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    } catch {
      continue;
    }
    if (!argv[0] || !basename(argv[0]).includes('ffmpeg')) continue;
    const output = argv.find((a) => a.startsWith(root) && a.includes('/.partial/'));
    if (output) found.push({ pid, output });
  }
  return found;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (alive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/** SIGTERM each orphan, SIGKILL after `graceMs`; resolves when all are gone. */
export async function stopOrphanRecorders(recordingsDir: string, graceMs: number): Promise<OrphanProcess[]> {
  const orphans = await findOrphanRecorders(recordingsDir);
  await Promise.all(
    orphans.map(async (o) => {
      try {
        process.kill(o.pid, 'SIGTERM');
      } catch {
        return;
      }
      if (await waitGone(o.pid, graceMs)) return;
      try {
        process.kill(o.pid, 'SIGKILL');
      } catch {
        return;
      }
      await waitGone(o.pid, graceMs);
    }),
  );
  return orphans;
}
