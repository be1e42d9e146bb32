// `tsbuild run`'s first half, like `docker create`: resolve the image,
// unpack its layers, work out the process (args, env, user, cwd) the way
// Docker does, and record it all as a container with a complete sandbox
// spec, so whoever starts it (foreground or detached supervisor) needs
// nothing but the container's dir.
import os from 'node:os';
import path from 'node:path';
import { defaultSpec, type SandboxMount } from '../../runner-native/index.js';
import type { Store } from '../store/open-store.js';
import type { StepResult } from '../store/step-result.js';
import { readImage } from '../image/image.js';
import { lowerDirsOf, withReadonlyRootfs } from '../steps/rootfs.js';
import { currentSnapshotter } from '../snapshots/snapshotter.js';
import { copyLayers } from '../snapshots/copy-view.js';
import { resolveProcessUser, resolveUserInLayers } from '../steps/user.js';
import { ContainerStore, type Container } from './container-store.js';
import { effectiveHealthcheck } from './health.js';
import { newContainerId, shortContainerId } from './names.js';
import { containerArgs, containerEnv, containerWorkdir, stopSignalOf } from './process-config.js';
import type { ContainerRunOptions, PortMapping } from './run-options.js';
import { applyPrivilegeOptions } from './privileges.js';
import { findContainer } from './control.js';
import { fillVolumes, planMounts, sandboxMounts, volumesFrom } from './mount-setup.js';
import { VolumeStore } from './volumes.js';

export function containerStoreOf(store: Store): ContainerStore {
  return new ContainerStore(store.paths.containers);
}

export function volumeStoreOf(store: Store): VolumeStore {
  return new VolumeStore(path.join(store.paths.root, 'volumes'));
}

/** Relative to each cgroup hierarchy: known in advance, so `stop`, `ps` and the reaper can find the container's processes. */
export function cgroupsPathOf(id: string): string {
  return `tsbuild/ctr-${id}`;
}

/** -P: each port the image exposes (tcp or udp) that -p did not publish goes to a free host port. */
function publishAllPorts(image: { ExposedPorts?: Record<string, unknown> }, given: PortMapping[]): PortMapping[] {
  return Object.keys(image.ExposedPorts ?? {})
    .map((p) => p.split('/'))
    .filter(([port, proto = 'tcp']) => (proto === 'tcp' || proto === 'udp') && !given.some((g) => g.containerPort === Number(port) && g.protocol === proto))
    .map(([port, proto = 'tcp']) => ({ hostIp: '0.0.0.0', hostPort: 0, containerPort: Number(port), protocol: proto as 'tcp' | 'udp' }));
}

export async function createContainer(store: Store, opts: ContainerRunOptions): Promise<Container> {
  const resolved = await store.images.resolve(opts.image);
  const image = await readImage(store.content, resolved.manifestDigest);
  const base = image.config.config ?? {};
  const exposed = { ...(base.ExposedPorts ?? {}) };
  for (const e of opts.expose ?? []) exposed[e.includes('/') ? e : `${e}/tcp`] = {};
  const imageConfig = { ...base, ExposedPorts: exposed };
  const result: StepResult = {
    layers: image.layers.map((l) => ({ diffId: l.diffId, blob: l.digest, size: l.size, mediaType: l.mediaType })),
    stepAdded: [],
  };
  // fail on a bad command or workdir before any disk work
  const args = containerArgs(imageConfig, { command: opts.command, entrypoint: opts.entrypoint });
  const cwd = containerWorkdir(imageConfig, opts.workdir);
  const healthcheck = effectiveHealthcheck(imageConfig.Healthcheck, opts.health ?? { none: false });
  const lowerDirs = await lowerDirsOf(store, result);
  const containers = containerStoreOf(store);
  const requests = [...opts.mounts];
  for (const spec of opts.volumesFrom) {
    const [ref, mode] = spec.split(':');
    requests.unshift(...volumesFrom(await findContainer(containers, ref!), mode));
  }
  const planned = await planMounts(requests, Object.keys(imageConfig.Volumes ?? {}), volumeStoreOf(store));
  // user names are looked up in the image's own /etc/passwd and /etc/group; new volumes get the image's files
  // (from the layers' snapshots: a mount only when new volumes need the image's files)
  const userSpec = opts.user ?? imageConfig.User ?? '';
  const user = planned.toFill.length === 0 ? await resolveUserInLayers(lowerDirs, userSpec)
    : await withReadonlyRootfs(store, result, async (root) => {
      await fillVolumes(root, planned.toFill);
      return resolveProcessUser(root, userSpec);
    });
  const mounts = sandboxMounts(planned.records);
  const id = newContainerId();
  const hostname = opts.hostname ?? (opts.network === 'host' ? os.hostname() : shortContainerId(id));
  const env = containerEnv(imageConfig, opts.env, { hostname, home: user.home });
  // Without the kernel's overlayfs a container's root is its own copy of
  // the image (as podman's vfs driver): it lives as long as the container.
  const copied = (await currentSnapshotter(store.paths.mounts)).name !== 'overlayfs';

  const created = await containers.create((name, dir) => {
    const spec = defaultSpec({
      args,
      rootPath: path.join(dir, 'rootfs'),
      ...(copied ? {} : { rootLayers: { lowerDirs, upperDir: path.join(dir, 'upper'), workDir: path.join(dir, 'work') } }),
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
    applyPrivilegeOptions(spec, opts.privileges ?? { capAdd: [], capDrop: [], privileged: false, sysctls: {}, ulimits: [] }, opts.network !== 'host');
    if (opts.init) spec.process.init = true;
    if (opts.tty) {
      spec.process.terminal = true;
      // docker sets TERM for a pty unless the user did
      if (!spec.process.env.some((e) => e.startsWith('TERM='))) spec.process.env.push('TERM=xterm');
      if (process.stdout.rows && process.stdout.columns) spec.process.consoleSize = { height: process.stdout.rows, width: process.stdout.columns };
    }
    return {
      id,
      name,
      created: new Date().toISOString(),
      image: opts.image,
      imageId: resolved.id,
      args,
      spec,
      network: opts.network,
      ports: opts.network === 'host' ? [] : [...opts.ports, ...(opts.publishAll ? publishAllPorts(imageConfig, opts.ports) : [])],
      ...(opts.extraHosts?.length ? { extraHosts: opts.extraHosts } : {}),
      ...(opts.dns?.length ? { dns: opts.dns } : {}),
      ...(opts.privileges?.capAdd.length ? { capAdd: opts.privileges.capAdd } : {}),
      ...(opts.privileges?.capDrop.length ? { capDrop: opts.privileges.capDrop } : {}),
      ...(opts.privileges?.privileged ? { privileged: true } : {}),
      autoRemove: opts.autoRemove,
      interactive: opts.interactive,
      tty: opts.tty,
      stopSignal: opts.stopSignal ?? stopSignalOf(imageConfig),
      ...(opts.stopTimeout !== undefined ? { stopTimeout: opts.stopTimeout } : {}),
      ...(opts.restartPolicy ? { restartPolicy: opts.restartPolicy } : {}),
      entrypoint: opts.entrypoint !== undefined ? (opts.entrypoint === '' ? [] : [opts.entrypoint]) : imageConfig.Entrypoint ?? [],
      cmd: args.slice(opts.entrypoint !== undefined ? (opts.entrypoint === '' ? 0 : 1) : (imageConfig.Entrypoint ?? []).length),
      user: opts.user ?? imageConfig.User ?? '',
      labels: { ...(imageConfig.Labels ?? {}), ...(opts.labels ?? {}) },
      exposedPorts: Object.keys(imageConfig.ExposedPorts ?? {}),
      mounts: planned.records,
      ...(healthcheck ? { healthcheck } : {}),
    };
  }, id, opts.name);
  if (copied) {
    try {
      await copyLayers(lowerDirs, path.join(created.dir, 'rootfs'));
    } catch (err) {
      await containers.remove(created).catch(() => undefined);
      throw err;
    }
  }
  return created;
}
