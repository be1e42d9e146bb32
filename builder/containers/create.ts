// `tsbuild run`'s first half, like `docker create`: resolve the image,
// unpack its layers, work out the process (args, env, user, cwd) the way
// Docker does, and record it all as a container with a complete sandbox
// spec, so whoever starts it (foreground or detached supervisor) needs
// nothing but the container's dir.
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { defaultSpec, type SandboxMount } from '../../runner-native/index.js';
import type { Store } from '../store/open-store.js';
import type { StepResult } from '../store/step-result.js';
import { readImage } from '../image/image.js';
import { lowerDirsOf, withReadonlyRootfs } from '../steps/rootfs.js';
import { resolveProcessUser } from '../steps/user.js';
import { ContainerStore, type Container } from './container-store.js';
import { newContainerId, shortContainerId } from './names.js';
import { containerArgs, containerEnv, containerWorkdir, stopSignalOf } from './process-config.js';
import type { ContainerRunOptions, VolumeMount } from './run-options.js';

export function containerStoreOf(store: Store): ContainerStore {
  return new ContainerStore(store.paths.containers);
}

/** Relative to each cgroup hierarchy: known in advance, so `stop`, `ps` and the reaper can find the container's processes. */
export function cgroupsPathOf(id: string): string {
  return `tsbuild/ctr-${id}`;
}

async function volumeMounts(volumes: VolumeMount[]): Promise<SandboxMount[]> {
  const mounts: SandboxMount[] = [];
  for (const v of volumes) {
    // Docker creates a missing host directory for -v; so do we
    await mkdir(v.source, { recursive: true });
    mounts.push({ destination: v.destination, type: 'bind', source: v.source, options: ['rbind', v.readonly ? 'ro' : 'rw', 'rprivate'] });
  }
  return mounts;
}

export async function createContainer(store: Store, opts: ContainerRunOptions): Promise<Container> {
  const resolved = await store.images.resolve(opts.image);
  const image = await readImage(store.content, resolved.manifestDigest);
  const imageConfig = image.config.config ?? {};
  const result: StepResult = {
    layers: image.layers.map((l) => ({ diffId: l.diffId, blob: l.digest, size: l.size, mediaType: l.mediaType })),
    stepAdded: [],
  };
  // fail on a bad command or workdir before any disk work
  const args = containerArgs(imageConfig, { command: opts.command, entrypoint: opts.entrypoint });
  const cwd = containerWorkdir(imageConfig, opts.workdir);
  const lowerDirs = await lowerDirsOf(store, result);
  // user names are looked up in the image's own /etc/passwd and /etc/group
  const user = await withReadonlyRootfs(store, result, (root) => resolveProcessUser(root, opts.user ?? imageConfig.User ?? ''));
  const mounts = await volumeMounts(opts.volumes);
  const id = newContainerId();
  const hostname = opts.hostname ?? (opts.network === 'host' ? os.hostname() : shortContainerId(id));
  const env = containerEnv(imageConfig, opts.env, { hostname, home: user.home });

  return containerStoreOf(store).create((name, dir) => {
    const spec = defaultSpec({
      args,
      rootPath: path.join(dir, 'rootfs'),
      rootLayers: { lowerDirs, upperDir: path.join(dir, 'upper'), workDir: path.join(dir, 'work') },
      env,
      cwd,
      user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
      hostname,
      network: opts.network === 'host' ? 'host' : 'none',
      readonlyRoot: opts.readOnly,
      resources: opts.resources,
      mounts,
      ...(opts.security?.seccomp ? { seccomp: opts.security.seccomp } : {}),
      noNewPrivileges: opts.security?.noNewPrivileges ?? false,
    });
    spec.linux.cgroupsPath = cgroupsPathOf(id);
    return {
      id,
      name,
      created: new Date().toISOString(),
      image: opts.image,
      imageId: resolved.id,
      args,
      spec,
      network: opts.network,
      ports: opts.network === 'host' ? [] : opts.ports,
      autoRemove: opts.autoRemove,
      interactive: opts.interactive,
      stopSignal: stopSignalOf(imageConfig),
    };
  }, id, opts.name);
}
