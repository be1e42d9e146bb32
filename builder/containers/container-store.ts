// Containers on disk, one directory each under the store's `containers/`:
//   <id>/config.json   what to run (fixed at create time)
//   <id>/state.json    status, pids, exit code (rewritten atomically)
//   <id>/container.log the output, JSON lines (see logs.ts)
//   <id>/upper, work   the overlay's writable layer; <id>/rootfs its mountpoint
// and `.names/<name>` files holding the id, created with O_EXCL so that two
// `tsbuild run --name x` at once cannot both win.
import { existsSync } from 'node:fs';
import { randomBytes } from '../../runner-native/native-crypto.js';
import { mkdir, open, readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { SandboxSpec } from '../../runner-native/index.js';
import type { HealthConfig } from '../image/types.js';
import { ContainerError } from './errors.js';
import { ownerlessIsStale } from '../image/lock.js';
import type { ProcessRef } from './liveness.js';
import { randomName, validateName } from './names.js';
import type { RestartPolicy } from './restart-policy.js';
import type { NetworkMode, PortMapping } from './run-options.js';

/** One mount as `inspect` shows it (docker's Mounts entries). */
export interface MountRecord {
  Type: 'bind' | 'volume' | 'tmpfs';
  /** volumes only */
  Name?: string;
  Source: string;
  Destination: string;
  RW: boolean;
  /** made for this container (image VOLUME, `-v /dst`): removed with `rm -v` and `run --rm` */
  anonymous?: boolean;
  /** tmpfs options */
  options?: string[];
}

export interface ContainerConfig {
  id: string;
  name: string;
  created: string;
  /** the image as the user named it */
  image: string;
  /** config digest (Docker's IMAGE ID) */
  imageId: string;
  args: string[];
  spec: SandboxSpec;
  network: NetworkMode;
  ports: PortMapping[];
  autoRemove: boolean;
  interactive: boolean;
  /** -t: the process runs on a pty */
  tty?: boolean;
  stopSignal: string;
  /** seconds `stop` waits before SIGKILL (--stop-timeout), default 10 */
  stopTimeout?: number;
  restartPolicy?: RestartPolicy;
  /** the image's ENTRYPOINT and CMD after the CLI's overrides, as inspect shows them */
  entrypoint?: string[];
  cmd?: string[];
  /** -u as given, or the image's USER */
  user?: string;
  labels?: Record<string, string>;
  exposedPorts?: string[];
  capAdd?: string[];
  capDrop?: string[];
  privileged?: boolean;
  /** the image's HEALTHCHECK after --health-* overrides */
  healthcheck?: HealthConfig;
  mounts?: MountRecord[];
  /** --add-host lines (`IP\tNAME`) and --dns servers */
  extraHosts?: string[];
  dns?: string[];
}

export type ContainerStatus = 'created' | 'running' | 'exited';

export interface ContainerState {
  status: ContainerStatus;
  /** the process running the sandbox: the detached supervisor or a foreground `tsbuild run` */
  owner?: ProcessRef;
  /** the container's PID 1, as a host pid */
  init?: ProcessRef;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  oomKilled?: boolean;
  /** why the container did not start or was lost */
  error?: string;
  /** published ports with the host ports actually bound */
  ports?: PortMapping[];
  /** how often the supervisor restarted the command (--restart) */
  restartCount?: number;
  /** `stop`/`kill` was asked for: no restart policy brings it back */
  stopRequested?: boolean;
  /** between two runs of a --restart container */
  restarting?: boolean;
  /** the health check's status and last results, in docker's shape */
  health?: HealthState;
}

export interface HealthLogEntry {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

export interface HealthState {
  Status: 'starting' | 'healthy' | 'unhealthy';
  FailingStreak: number;
  Log: HealthLogEntry[];
}

export interface Container {
  config: ContainerConfig;
  state: ContainerState;
  dir: string;
}

const NAMES = '.names';
const TEMP = '.new-';
const ID_RULE = /^[0-9a-f]{64}$/;

async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  const temp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  const fh = await open(temp, 'w', 0o600);
  try {
    await fh.writeFile(JSON.stringify(value, null, 2) + '\n');
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(temp, file);
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

export class ContainerStore {
  constructor(readonly root: string) {}

  dirOf(id: string): string {
    return path.join(this.root, id);
  }

  logFile(id: string): string {
    return path.join(this.dirOf(id), 'container.log');
  }

  supervisorLogFile(id: string): string {
    return path.join(this.dirOf(id), 'supervisor.log');
  }

  /**
   * Claims the name (or a generated one) and creates the container's dir
   * with its config, atomically. `make` gets the name and the final dir
   * (with empty upper/, work/ and rootfs/ in it) and returns the config.
   */
  async create(make: (name: string, dir: string) => Promise<ContainerConfig> | ContainerConfig, id: string, wantedName?: string): Promise<Container> {
    await mkdir(path.join(this.root, NAMES), { recursive: true });
    const name = await this.claimName(id, wantedName);
    const dir = this.dirOf(id);
    const temp = path.join(this.root, `${TEMP}${id}`);
    try {
      await mkdir(temp);
      // the overlay's dirs exist before the config that names them
      await Promise.all(['upper', 'work', 'rootfs'].map((d) => mkdir(path.join(temp, d))));
      const config = await make(name, dir);
      const state: ContainerState = { status: 'created' };
      await writeJsonAtomic(path.join(temp, 'config.json'), config);
      await writeJsonAtomic(path.join(temp, 'state.json'), state);
      await rename(temp, dir);
      return { config, state, dir };
    } catch (err) {
      await rm(temp, { recursive: true, force: true });
      await this.releaseName(name, id);
      throw err;
    }
  }

  private async claimName(id: string, wanted: string | undefined): Promise<string> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const name = wanted !== undefined ? validateName(wanted) : randomName(attempt);
      const file = path.join(this.root, NAMES, name);
      try {
        await writeFile(file, id, { flag: 'wx' });
        return name;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const owner = (await readFile(file, 'utf8').catch(() => '')).trim();
      // A claim whose container never got created (crash between the two
      // steps) is void; so is one that names nobody (its maker killed
      // between creating the file and writing its id) once it is not new.
      const voidClaim = owner ? !(await this.exists(owner)) && !(await this.exists(`${TEMP}${owner}`)) : await ownerlessIsStale(file);
      if (voidClaim) {
        await unlink(file).catch(() => undefined);
        attempt--;
        continue;
      }
      if (wanted !== undefined) {
        throw new ContainerError('NAME_IN_USE', `the container name "${name}" is already in use by container "${owner}"; remove (or rename) that container to reuse the name`);
      }
    }
    throw new ContainerError('NAME_IN_USE', 'could not find a free container name; give one with --name');
  }

  private async releaseName(name: string, id: string): Promise<void> {
    const file = path.join(this.root, NAMES, name);
    const owner = (await readFile(file, 'utf8').catch(() => '')).trim();
    if (owner === id) await unlink(file).catch(() => undefined);
  }

  private async exists(entry: string): Promise<boolean> {
    return readdir(path.join(this.root, entry)).then(() => true, () => false);
  }

  async load(id: string): Promise<Container | undefined> {
    const dir = this.dirOf(id);
    const config = await readJson<ContainerConfig>(path.join(dir, 'config.json'));
    const state = await readJson<ContainerState>(path.join(dir, 'state.json'));
    return config && state ? { config, state, dir } : undefined;
  }

  async writeState(id: string, state: ContainerState): Promise<void> {
    try {
      await writeJsonAtomic(path.join(this.dirOf(id), 'state.json'), state);
    } catch (e) {
      // Removed meanwhile (rm -f, or reaped as lost by another process):
      // there is no state left to record, and recreating it would resurrect it.
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' && !existsSync(this.dirOf(id))) return;
      throw e;
    }
  }

  async updateState(id: string, change: Partial<ContainerState>): Promise<ContainerState> {
    const current = (await this.load(id))?.state ?? { status: 'created' as const };
    const next = { ...current, ...change };
    await this.writeState(id, next);
    return next;
  }

  /** Every container, newest first. */
  async list(): Promise<Container[]> {
    const entries = await readdir(this.root).catch(() => [] as string[]);
    const found = await Promise.all(entries.filter((e) => ID_RULE.test(e)).map((id) => this.load(id)));
    return found.filter((c): c is Container => c !== undefined).sort((a, b) => b.config.created.localeCompare(a.config.created));
  }

  /** By exact name, full id, or unique id prefix, as docker resolves them. */
  async find(idOrName: string): Promise<Container> {
    const clean = idOrName.replace(/^\//, '');
    const byName = (await readFile(path.join(this.root, NAMES, clean), 'utf8').catch(() => '')).trim();
    if (byName) {
      const c = await this.load(byName);
      if (c) return c;
    }
    if (/^[0-9a-f]+$/.test(clean)) {
      const all = (await readdir(this.root).catch(() => [] as string[])).filter((e) => ID_RULE.test(e) && e.startsWith(clean));
      if (all.length > 1) throw new ContainerError('AMBIGUOUS_CONTAINER', `multiple containers found with the id prefix ${clean}: give more characters`);
      const c = all.length === 1 ? await this.load(all[0]!) : undefined;
      if (c) return c;
    }
    throw new ContainerError('NO_SUCH_CONTAINER', `no such container: ${idOrName}`);
  }

  /** Gives the container a new name: claimed first (so two renames cannot both win), the old one freed after. */
  async rename(c: Container, wanted: string): Promise<void> {
    const name = await this.claimName(c.config.id, wanted);
    const fresh = await this.load(c.config.id);
    if (!fresh) {
      await this.releaseName(name, c.config.id);
      throw new ContainerError('NO_SUCH_CONTAINER', `no such container: ${c.config.name}`);
    }
    await writeJsonAtomic(path.join(this.dirOf(c.config.id), 'config.json'), { ...fresh.config, name });
    await this.releaseName(c.config.name, c.config.id);
  }

  /** Removes the dir (writable layer and logs included) and frees the name; with `volumes`, its anonymous volumes too. */
  async remove(c: Container, opts: { volumes?: boolean } = {}): Promise<void> {
    const doomed = path.join(this.root, `.removing-${c.config.id}`);
    // the rename makes the container vanish at once for list/find, even if rm takes a while
    await rename(c.dir, doomed).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'ENOENT') throw err; });
    await rm(doomed, { recursive: true, force: true });
    await this.releaseName(c.config.name, c.config.id);
    if (opts.volumes) {
      // <volumes>/<name>/_data: the volume is its parent dir
      for (const m of c.config.mounts ?? []) if (m.anonymous) await rm(path.dirname(m.Source), { recursive: true, force: true });
    }
  }
}
