// Shared by the cache export/import tests: reading a build's plain
// progress output and an exported cache (local layout or registry).
import { cp, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseCacheConfig, parseCacheManifest, type CacheConfig } from '../cache/cache-manifest.js';
import { FIXTURES, tempDir } from './helpers/cli.js';

// `[stage n/m] INSTRUCTION` → how the step ended: CACHED, DONE, ERROR.
export function stepOutcomes(plain: string): Map<string, string> {
  const names = new Map<string, string>();
  const out = new Map<string, string>();
  for (const line of plain.split('\n')) {
    // Steps as buildx names them (`[2/4] RUN ...`, `[words 3/4] COPY ...`); FROM is the base image, not a step.
    const start = /^#(\d+) (\[[^\]]*\d+\/\d+\] (?!FROM ).*)$/.exec(line);
    if (start) {
      names.set(start[1]!, start[2]!);
      continue;
    }
    const end = /^#(\d+) (CACHED|DONE|ERROR)/.exec(line);
    if (end && names.has(end[1]!)) out.set(names.get(end[1]!)!, end[2]!);
  }
  return out;
}

// The fixture project copied to a fresh directory: the same sources at
// another absolute path, as on another machine.
export async function copyProject(name: string, edit?: (dockerfile: string) => string): Promise<string> {
  const dir = await tempDir(`tsbuild-cacheio-${name}-`);
  await cp(path.join(FIXTURES, 'projects', name), dir, { recursive: true });
  if (edit) {
    const file = path.join(dir, 'Dockerfile');
    await import('node:fs/promises').then((fs) => readFile(file, 'utf8').then((t) => fs.writeFile(file, edit(t))));
  }
  return dir;
}

// The cache config of an OCI layout written by --cache-to type=local.
export async function readLocalCache(dir: string, tag = 'latest'): Promise<CacheConfig> {
  const index = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
  const entry = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (!entry) throw new Error(`no ${tag} in ${dir}`);
  const blob = (d: string) => readFile(path.join(dir, 'blobs/sha256', d.slice('sha256:'.length)));
  const manifest = parseCacheManifest(await blob(entry.digest), dir);
  return parseCacheConfig(await blob(manifest.config.digest), dir);
}
