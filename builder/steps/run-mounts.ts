// RUN --mount: turns the frontend's mount descriptions into sandbox bind
// and tmpfs mounts, and owns whatever it had to prepare (read-only views of
// stages, cache dirs and their locks, secret files) until the step ends.
import { createHash, randomBytes } from '../../runner-native/native-crypto.js';
import { chmod, chown, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { RunMount, RunStep } from '../../frontend/graph/types.js';
import type { SandboxMount } from '../../runner-native/index.js';
import type { Store } from '../store/open-store.js';
import type { StepResult } from '../store/step-result.js';
import type { BuildContext } from '../context/context.js';
import { resolveInRoot } from '../fileops/resolve.js';
import { acquireLock } from '../image/lock.js';
import { mountPointName } from '../snapshots/overlay.js';
import { mountView } from '../snapshots/views.js';
import { mountReadonlyRootfs } from './rootfs.js';
import { MountError } from './errors.js';
import type { SecretProvider, SshProvider, StepEnv } from './types.js';

export { MountError };

export interface PreparedMounts {
  mounts: SandboxMount[];
  env: string[];                  // secret env vars (never logged, never keyed)
  release(): Promise<void>;
}

// Private cache mounts in use by this process, so a second concurrent
// user gets its own fresh directory instead of sharing.
const privateInUse = new Set<string>();

export async function prepareMounts(env: StepEnv, step: RunStep, sources: StepResult[],
  context: (name?: string) => Promise<BuildContext>): Promise<PreparedMounts> {
  const { store } = env;
  const mounts: SandboxMount[] = [];
  const vars: string[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  const release = async () => { for (const c of cleanups.reverse()) await c().catch(() => undefined); };
  let sourceNo = 0;
  try {
    for (const m of step.mounts) {
      const fromResult = m.from && m.from.type !== 'context' ? sources[sourceNo++] : undefined;
      switch (m.type) {
        case 'bind': mounts.push(await bindMount(store, m, fromResult, context, cleanups)); break;
        case 'cache': mounts.push(await cacheMount(store, m, fromResult, cleanups)); break;
        case 'tmpfs': mounts.push({ destination: m.target, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', ...(m.size ? [`size=${m.size}`] : [])] }); break;
        case 'secret': await secretMount(store, env.secrets, m, mounts, vars, cleanups); break;
        case 'ssh': await sshMount(env.ssh, m, mounts, vars, step); break;
      }
    }
    for (const f of step.files) mounts.push(await heredocFile(store, f, cleanups));
    return { mounts, env: vars, release };
  } catch (err) {
    await release();
    throw err;
  }
}

async function bindMount(store: Store, m: RunMount, from: StepResult | undefined, context: (name?: string) => Promise<BuildContext>,
  cleanups: (() => Promise<void>)[]): Promise<SandboxMount> {
  let root: string;
  if (from) {
    // The sandbox binds it: it must be a host mount.
    const view = await mountReadonlyRootfs(store, from, 'host');
    cleanups.push(view.release);
    root = view.root;
  } else {
    root = (await context(m.from?.type === 'context' ? m.from.name : undefined)).root;
  }
  // The source is resolved inside its root: a symlink in the context or a
  // stage cannot expose a host path to the step.
  const src = await resolveInRoot(root, m.source ?? '/');
  if (!src.exists) throw new MountError('MOUNT_SOURCE_NOT_FOUND', `failed to mount ${m.target}: source ${m.source ?? '/'} not found`);
  if (m.readonly) return { destination: m.target, type: 'bind', source: src.host, options: ['rbind', 'ro'] };
  // rw: the step may write, but the writes are thrown away with the overlay.
  const tmp = path.join(store.paths.state, mountPointName('rw'));
  const target = path.join(store.paths.mounts, mountPointName('rw'));
  await mkdir(path.join(tmp, 'upper'), { recursive: true });
  await mkdir(path.join(tmp, 'work'), { recursive: true });
  const empty = await store.snapshots.empty();
  const view = await mountView(target, { lowerDirs: [src.host, empty], upperDir: path.join(tmp, 'upper'), workDir: path.join(tmp, 'work') }, 'host');
  cleanups.push(async () => { await view.release(); await rm(tmp, { recursive: true, force: true }); });
  return { destination: m.target, type: 'bind', source: target, options: ['rbind', 'rw'] };
}

async function cacheMount(store: Store, m: RunMount, from: StepResult | undefined, cleanups: (() => Promise<void>)[]): Promise<SandboxMount> {
  const id = m.id ?? m.target;
  const hex = createHash('sha256').update(id).digest('hex').slice(0, 32);
  let dir = path.join(store.paths.cacheMounts, hex);
  if (m.sharing === 'private' && privateInUse.has(dir)) {
    dir = path.join(store.paths.cacheMounts, `${hex}-private-${randomBytes(4).toString('hex')}`);
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
  }
  const fresh = !(await stat(dir).then(() => true, () => false));
  if (fresh) {
    await mkdir(dir, { recursive: true });
    if (from) {
      // `from=` seeds a new cache dir from a stage's files.
      const view = await mountReadonlyRootfs(store, from);
      try {
        const src = await resolveInRoot(view.root, m.source ?? '/');
        if (src.exists) execFileSync('cp', ['-a', `${src.host}/.`, dir]);
      } finally {
        await view.release();
      }
    }
    await chmod(dir, m.mode ?? 0o755);
    await chown(dir, m.uid ?? 0, m.gid ?? 0);
  }
  if (m.sharing === 'locked') {
    const unlock = await acquireLock(`${dir}.lock`);
    cleanups.push(unlock);
  } else if (m.sharing === 'private') {
    privateInUse.add(dir);
    cleanups.push(async () => { privateInUse.delete(dir); });
  }
  return { destination: m.target, type: 'bind', source: dir, options: ['rbind', m.readonly ? 'ro' : 'rw'] };
}

async function secretMount(store: Store, secrets: SecretProvider, m: RunMount, mounts: SandboxMount[], env: string[],
  cleanups: (() => Promise<void>)[]): Promise<void> {
  const id = m.id ?? path.basename(m.target);
  const value = await secrets.getSecret(id);
  if (value === undefined) {
    if (m.required) throw new MountError('SECRET_NOT_FOUND', `secret ${id}: not provided (use --secret id=${id},src=FILE or env=VAR)`);
    return;
  }
  if (m.env) env.push(`${m.env}=${value.toString('utf8')}`);
  // A secret exposed as an env var mounts no file unless a target was given.
  if (!m.target) return;
  // Secrets are written to memory (tmpfs), never to the store's disk.
  const dir = path.join(secretsBase(store), mountPointName('tsbuild-secret'));
  await mkdir(dir, { mode: 0o700 });
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'secret');
  await writeFile(file, value, { mode: m.mode ?? 0o400 });
  await chmod(file, m.mode ?? 0o400);
  await chown(file, m.uid ?? 0, m.gid ?? 0);
  mounts.push({ destination: m.target, type: 'bind', source: file, options: ['bind', 'ro', 'nosuid', 'nodev', 'noexec'] });
}

async function sshMount(ssh: SshProvider, m: RunMount, mounts: SandboxMount[], env: string[], step: RunStep): Promise<void> {
  const id = m.id ?? 'default';
  const socket = await ssh.agentSocket(id);
  if (!socket) {
    if (m.required) throw new MountError('SSH_NOT_FOUND', `ssh ${id}: no agent socket or key forwarded (use --ssh ${id}[=SOCKET|KEY])`);
    return;
  }
  mounts.push({ destination: m.target, type: 'bind', source: socket, options: ['bind', 'rw'] });
  if (!step.env.some((e) => e.startsWith('SSH_AUTH_SOCK='))) env.push(`SSH_AUTH_SOCK=${m.target}`);
}

// `RUN <<EOF` scripts with a shebang run as a file, mounted read-only.
async function heredocFile(store: Store, f: RunStep['files'][number], cleanups: (() => Promise<void>)[]): Promise<SandboxMount> {
  const dir = path.join(store.paths.state, mountPointName('heredoc'));
  await mkdir(dir, { recursive: true });
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, path.basename(f.path));
  await writeFile(file, f.content);
  await chmod(file, f.mode);
  return { destination: f.path, type: 'bind', source: file, options: ['bind', 'ro'] };
}

// /dev/shm is a tmpfs on Linux; the store's state dir only where it is missing.
export function secretsBase(store: Store): string {
  return existsSync('/dev/shm') ? '/dev/shm' : store.paths.state;
}
