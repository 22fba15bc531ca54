// Free bytes available to the gateway (non-root) on the filesystem holding `dir`.
import { statfs } from 'node:fs/promises';

export function statfsFreeBytes(dir: string): () => Promise<number> {
  return async () => {
    const s = await statfs(dir);
    return Number(s.bavail) * Number(s.bsize);
  };
}
