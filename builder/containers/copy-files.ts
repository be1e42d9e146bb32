// `tsbuild cp`: files between the host and a container, in both
// directions, as docker cp does. Every path inside the container is
// resolved by the in-root resolver (symlinks expanded against the
// container's root, `..` never above it), so a symlink planted in the
// container can never make cp read or write outside it. A running
// container is reached through its init's root (/proc/<pid>/root), a
// stopped one through a private overlay mount of its layers.
import { execFile } from 'node:child_process';
import { mkdir, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { copy } from '../fileops/copy.js';
import { resolveInRoot } from '../fileops/resolve.js';
import { DirectorySource } from '../fileops/source-tree.js';
import type { Container } from './container-store.js';
import { ContainerError } from './errors.js';
import { resetOverlayWorkDir } from './execute.js';

const run = promisify(execFile);

async function withStoppedRoot<T>(c: Container, fn: (root: string) => Promise<T>): Promise<T> {
  const layers = c.config.spec.rootLayers;
  // a container whose root is a copy of its image (no overlay): that very dir
  if (!layers) return fn(c.config.spec.root.path);
  if (!layers.upperDir) throw new ContainerError('UNSUPPORTED', `container ${c.config.name} has no writable layer to copy from`);
  await resetOverlayWorkDir(c);
  const target = path.join(c.dir, `cp-${process.pid}`);
  await mkdir(target, { recursive: true });
  // not volatile: the upper dir is the container's, mounted again when it starts
  const opts = `lowerdir=${layers.lowerDirs.join(':')},upperdir=${layers.upperDir},workdir=${layers.workDir},index=off,xino=off,redirect_dir=off,metacopy=off`;
  await run('mount', ['-t', 'overlay', 'overlay', '-o', opts, target]);
  try {
    return await fn(target);
  } finally {
    await run('umount', [target]).catch(() => run('umount', ['-l', target]));
    await rmdir(target).catch(() => undefined);
  }
}

export async function withContainerRoot<T>(c: Container, fn: (root: string) => Promise<T>): Promise<T> {
  if (c.state.status === 'running' && c.state.init) return fn(`/proc/${c.state.init.pid}/root`);
  return withStoppedRoot(c, fn);
}

async function isDir(p: string): Promise<boolean> {
  return stat(p).then((s) => s.isDirectory(), () => false);
}

/** CONTAINER:SRC → host DEST (`cp -a` semantics: into DEST when it is a directory). */
export async function copyFromContainer(c: Container, src: string, dest: string): Promise<void> {
  await withContainerRoot(c, async (root) => {
    const followFinal = src.endsWith('/') || src.endsWith('/.');
    const r = await resolveInRoot(root, path.posix.resolve('/', src), { followFinal });
    if (!r.exists) throw new ContainerError('INVALID_RUN_OPTION', `Could not find the file ${src} in container ${c.config.name}`);
    const from = src.endsWith('/.') ? `${r.host}/.` : r.host;
    await run('cp', ['-a', '--', from, dest]).catch((err: { stderr?: string }) => {
      throw new ContainerError('INVALID_RUN_OPTION', `copy failed: ${(err.stderr ?? '').trim()}`);
    });
  });
}

/** host SRC → CONTAINER:DEST, owned by root as docker's cp makes it; written through the in-root resolver. */
export async function copyToContainer(c: Container, src: string, dest: string): Promise<void> {
  const source = path.resolve(src);
  const srcIsDir = await isDir(source);
  if (!srcIsDir && !(await stat(source).then(() => true, () => false))) {
    throw new ContainerError('INVALID_RUN_OPTION', `no such file or directory: ${src}`);
  }
  await withContainerRoot(c, async (root) => {
    const inRoot = path.posix.resolve('/', dest);
    const existing = await resolveInRoot(root, inRoot);
    const destIsDir = existing.exists && (await isDir(existing.host));
    let target: string;
    if (srcIsDir) target = destIsDir && !src.endsWith('/.') ? `${path.posix.join(inRoot, path.basename(source))}/` : `${inRoot}/`;
    else target = destIsDir || dest.endsWith('/') ? `${inRoot}/` : inRoot;
    await copy(
      { instruction: 'COPY', sources: [srcIsDir ? '.' : path.basename(source)], dest: target },
      { destRoot: root, source: new DirectorySource(srcIsDir ? source : path.dirname(source), { description: 'host' }) },
    );
  });
}
