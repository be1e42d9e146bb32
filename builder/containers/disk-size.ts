// Bytes a container's writable layer (or a volume) takes: for prune's
// "reclaimed space" and ps --size. Symlinks are not followed.
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';

export async function directorySize(dir: string): Promise<number> {
  let total = 0;
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += await directorySize(p);
    else total += await lstat(p).then((s) => s.size, () => 0);
  }
  return total;
}
