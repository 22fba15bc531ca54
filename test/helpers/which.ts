// Finds a system tool on PATH (and the sbin directories, where mosquitto lives) so a test can
// skip with a message naming what to install.
import { delimiter } from 'node:path';
import { onPath } from '../../streams/ffmpeg/resolve-binary.js';

export function which(cmd: string): string | null {
  return onPath(cmd, { PATH: [process.env.PATH ?? '', '/usr/sbin', '/sbin'].join(delimiter) });
}

/** tap `skip` option text, or false when the tool is present. */
export function needs(cmd: string, aptPackage = cmd): string | false {
  return which(cmd) ? false : `${cmd} not installed (apt-get install -y ${aptPackage})`;
}
