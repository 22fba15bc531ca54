// Finds a system tool on PATH so a test can skip with a message naming what to install.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export function which(cmd: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter).concat(['/usr/sbin', '/sbin'])) {
    const p = join(dir, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* keep looking */
    }
  }
  return null;
}

/** tap `skip` option text, or false when the tool is present. */
export function needs(cmd: string, aptPackage = cmd): string | false {
  return which(cmd) ? false : `${cmd} not installed (apt-get install -y ${aptPackage})`;
}
