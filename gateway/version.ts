// The software version reported in status/info: package.json's, read once at start.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

function findPackageJson(): { version: string; name: string } {
  // Works from gateway/*.ts (tsx) and dist/gateway/*.js alike: walk up to the package root.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    try {
      return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    } catch {
      dir = dirname(dir);
    }
  }
  return { version: '0.0.0', name: 'tpgw' };
}

export const VERSION: string = findPackageJson().version;
