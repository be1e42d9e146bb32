// `--build-context NAME=VALUE`, as buildx takes it: VALUE is
// `docker-image://REF`, `oci-layout://PATH[@TAG]`, `target:STAGE`, a git or
// http(s) URL, or a local directory. The frontend sees what each NAME now
// means (an image, a stage or a directory); directories (and unpacked
// URLs) are read by COPY --from=NAME and RUN --mount from=NAME.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { NamedContext } from '../../frontend/graph/types.js';
import { UsageError } from '../errors.js';
import type { Store } from '../store/open-store.js';
import { ociLayoutOf } from './oci-layout-spec.js';

const run = promisify(execFile);

export interface ResolvedContexts {
  /** For the frontend. */
  named: Map<string, NamedContext>;
  /** Host directories of the directory contexts, by name. */
  dirs: Map<string, string>;
  cleanup(): Promise<void>;
}

/** `oci-layout://DIR[@TAG]` → the layout's directory, its index and the tag wanted, or a usage error. */
export async function readOciLayout(value: string): Promise<{ dir: string; tag?: string; index: { manifests?: { digest: string; annotations?: Record<string, string> }[] } }> {
  const spec = value.slice('oci-layout://'.length);
  const { dir: given, tag } = ociLayoutOf(value)!;
  const dir = path.resolve(given);
  try {
    return { dir, tag, index: JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) };
  } catch (err) {
    throw new UsageError(`invalid --build-context oci-layout://${spec}: ${dir} is not an OCI layout (${(err as NodeJS.ErrnoException).code ?? (err as Error).message} reading index.json)`);
  }
}

async function loadOciLayout(store: Store, value: string): Promise<string> {
  const spec = value.slice('oci-layout://'.length);
  const { dir, tag, index } = await readOciLayout(value);
  const manifests = index.manifests ?? [];
  const wanted = tag === undefined
    ? manifests[0]
    : manifests.find((m) => m.digest === tag || m.annotations?.['org.opencontainers.image.ref.name'] === tag || m.annotations?.['org.opencontainers.image.ref.name']?.endsWith(`:${tag}`));
  if (!wanted) throw new UsageError(`invalid --build-context oci-layout://${spec}: no image ${tag ?? ''} in ${dir}/index.json`);
  // The loader reads archives: hand it the layout as an (uncompressed) tar.
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-ocictx-'));
  try {
    const tar = path.join(tmp, 'layout.tar');
    await run('tar', ['-C', dir, '-cf', tar, '.']);
    const { loadArchive } = await import('../image/load.js');
    const loaded = await loadArchive(store.content, store.images, tar);
    const image = loaded.find((l) => l.manifestDigest === wanted.digest) ?? loaded[0];
    if (!image) throw new UsageError(`invalid --build-context oci-layout://${spec}: nothing loadable in ${dir}`);
    return `oci-layout@${image.manifestDigest}`;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** The directory a --build-context value names, or a usage error. */
export async function contextDirectory(name: string, value: string): Promise<string> {
  const dir = path.resolve(value);
  if (!(await stat(dir).catch(() => null))?.isDirectory()) throw new UsageError(`invalid --build-context ${name}=${value}: not a directory (or docker-image://, oci-layout://, target:, a URL)`);
  return dir;
}

export async function resolveBuildContexts(store: Store, specs: readonly { name: string; value: string }[]): Promise<ResolvedContexts> {
  const named = new Map<string, NamedContext>();
  const dirs = new Map<string, string>();
  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async () => {
    for (const c of cleanups) await c().catch(() => undefined);
  };
  try {
    for (const { name, value } of specs) {
      if (value.startsWith('docker-image://')) {
        named.set(name, { type: 'image', ref: value.slice('docker-image://'.length) });
      } else if (value.startsWith('oci-layout://')) {
        named.set(name, { type: 'image', ref: await loadOciLayout(store, value) });
      } else if (value.startsWith('target:')) {
        named.set(name, { type: 'stage', name: value.slice('target:'.length) });
      } else {
        const remote = await import('../context/remote-context.js');
        let dir: string;
        if (remote.isRemoteContext(value) && value !== '-') {
          const ctx = await remote.materializeContext(value);
          cleanups.push(ctx.cleanup);
          dir = ctx.dir;
        } else {
          dir = await contextDirectory(name, value);
        }
        named.set(name, { type: 'local' });
        dirs.set(name, dir);
      }
    }
  } catch (err) {
    await cleanup();
    throw err;
  }
  return { named, dirs, cleanup };
}
