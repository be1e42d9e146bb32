// Turns the container's mount requests (-v, --mount, --tmpfs,
// --volumes-from, the image's VOLUMEs) into sandbox mounts, creating the
// volumes they need. A new (or still empty) volume is filled with what the
// image has at its destination, as docker does, unless `nocopy`.
import { execFile } from 'node:child_process';
import { mkdir, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { SandboxMount } from '../../runner-native/index.js';
import { resolveInRoot } from '../fileops/resolve.js';
import type { Container, MountRecord } from './container-store.js';
import { ContainerError } from './errors.js';
import type { MountRequest } from './mount-spec.js';
import type { VolumeStore } from './volumes.js';

const run = promisify(execFile);

export interface PlannedMounts {
  records: MountRecord[];
  /** volumes to fill from the image (new or empty) */
  toFill: MountRecord[];
}

/** `--volumes-from C[:ro|rw]`: the other container's volumes and binds, at the same places. */
export function volumesFrom(source: Container, mode: string | undefined): MountRequest[] {
  if (mode !== undefined && mode !== 'ro' && mode !== 'rw') throw new ContainerError('INVALID_RUN_OPTION', `invalid mode for --volumes-from: ${mode}`);
  return (source.config.mounts ?? []).filter((m) => m.Type !== 'tmpfs').map((m): MountRequest => {
    const readonly = mode === undefined ? !m.RW : mode === 'ro';
    return m.Type === 'volume'
      ? { kind: 'volume', name: m.Name!, destination: m.Destination, readonly, nocopy: true }
      : { kind: 'bind', source: m.Source, destination: m.Destination, readonly };
  });
}

async function isEmptyDir(dir: string): Promise<boolean> {
  return (await readdir(dir).catch(() => ['?'])).length === 0;
}

/** Creates what the requests need; later requests for the same destination win, as in docker. */
export async function planMounts(requests: MountRequest[], imageVolumes: string[], volumes: VolumeStore): Promise<PlannedMounts> {
  const byDestination = new Map<string, MountRequest>();
  for (const v of imageVolumes) byDestination.set(path.posix.normalize(v), { kind: 'volume', destination: path.posix.normalize(v), readonly: false, nocopy: false });
  for (const r of requests) byDestination.set(r.destination, r);
  const records: MountRecord[] = [];
  const toFill: MountRecord[] = [];
  for (const r of byDestination.values()) {
    if (r.kind === 'bind') {
      const exists = await stat(r.source).then(() => true, () => false);
      // docker's -v makes a missing host directory; a file must exist
      if (!exists) await mkdir(r.source, { recursive: true });
      records.push({ Type: 'bind', Source: r.source, Destination: r.destination, RW: !r.readonly });
    } else if (r.kind === 'volume') {
      const { volume, created } = await volumes.ensure(r.name);
      // only an anonymous volume made for this container goes with it (not one shared through --volumes-from)
      const ownAnonymous = created && volume.anonymous === true;
      const record: MountRecord = { Type: 'volume', Name: volume.Name, Source: volume.Mountpoint, Destination: r.destination, RW: !r.readonly, ...(ownAnonymous ? { anonymous: true } : {}) };
      records.push(record);
      if (!r.nocopy && (await isEmptyDir(volume.Mountpoint))) toFill.push(record);
    } else {
      records.push({ Type: 'tmpfs', Source: '', Destination: r.destination, RW: !r.options.includes('ro'), options: r.options });
    }
  }
  return { records, toFill };
}

/** Copies the image's files at each volume's destination into it (called with the image's root mounted). */
export async function fillVolumes(imageRoot: string, toFill: MountRecord[]): Promise<void> {
  for (const m of toFill) {
    const r = await resolveInRoot(imageRoot, m.Destination);
    if (!r.exists || !(await stat(r.host).then((s) => s.isDirectory(), () => false))) continue;
    await run('cp', ['-a', '--', `${r.host}/.`, m.Source]);
  }
}

export function sandboxMounts(records: MountRecord[]): SandboxMount[] {
  return records.map((m): SandboxMount => (m.Type === 'tmpfs'
    ? { destination: m.Destination, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'noexec', ...(m.options ?? [])] }
    : { destination: m.Destination, type: 'bind', source: m.Source, options: ['rbind', m.RW ? 'rw' : 'ro', 'rprivate'] }));
}
