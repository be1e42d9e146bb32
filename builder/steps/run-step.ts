// RUN: the command in a sandbox whose root is an overlay of the parent's
// snapshots with a fresh upper dir; the upper dir becomes the layer.
import { OVERLAY_OPAQUE_XATTR } from '../../cache/whiteout.js';
import { readdirSync, rmdirSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import type { RunStep } from '../../frontend/graph/types.js';
import { readXattr } from '../../cache/xattrs.js';
import { lstatQuiet } from '../../cache/quiet-stat.js';
import { cgroupPathUnder, hostsFile, resourcesKey, type RunResources } from './run-resources.js';
// The sandbox loads only when a RUN runs: describing a step needs none of it.
import type { NetworkLease, Runtime, SandboxSpec } from '../../runner-native/index.js';
import type { Store } from '../store/open-store.js';
import type { StepResult } from '../store/step-result.js';
import type { BuildContext } from '../context/context.js';
import type { ExecContext } from '../solver/vertex.js';
import { commitStep, lowerDirsOf, sandboxRoot } from './rootfs.js';
import { prepareMounts } from './run-mounts.js';
import { resolveUserInLayers, type ProcessUser } from './user.js';
import { RunFailedError } from './errors.js';
import type { StepEnv } from './types.js';

export { RunFailedError };

// Proxy variables reach the step's environment but never its cache key.
const PROXY_VARS = new Set(['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy']);

// runc sets HOME from the user's passwd entry when the image does not.
function withHome(env: string[], home: string): string[] {
  return env.some((e) => e.startsWith('HOME=')) ? env : [...env, `HOME=${home}`];
}

export function describeRun(step: RunStep, bindSourceDigests: (string | undefined)[], resources?: RunResources,
  buildNetwork: StepEnv['network'] = 'default'): unknown {
  const extra = resourcesKey(resources);
  return {
    ...(extra !== undefined ? { resources: extra } : {}),
    op: 'run',
    args: step.args,
    env: step.env.filter((e) => !PROXY_VARS.has(e.slice(0, e.indexOf('=')))),
    // the network the step runs with: `build --network` applies where RUN says nothing
    user: step.user, workdir: step.workdir, network: step.network === 'default' ? buildNetwork : step.network, security: step.security,
    files: step.files,
    // Secrets and SSH sockets never enter the key: only that they are mounted where.
    mounts: step.mounts.map((m, i) => m.type === 'secret' || m.type === 'ssh'
      ? { type: m.type, target: m.target, id: m.id, env: m.env, required: m.required }
      : { ...m, from: m.from?.type === 'image' ? { type: 'image', ref: m.from.ref } : m.from, content: bindSourceDigests[i] }),
  };
}

// One Runtime per store and runtime name: a library caller may build into several stores.
const runtimes = new Map<string, Runtime>();

// As BuildKit's executor (oci.GetUser): every USER, root and the default
// included, is looked up in the image's /etc/passwd and /etc/group, so a
// user gets the supplementary groups that list it (`id` prints them).
// The files are read from the layers' snapshots: no overlay is mounted for it.
async function resolveUser(parent: StepResult, lowerDirs: string[], user: string): Promise<ProcessUser> {
  if (parent.layers.length === 0 && (user === '' || user === '0' || user === 'root')) return { uid: 0, gid: 0, additionalGids: [], home: '/root' };
  return resolveUserInLayers(lowerDirs, user);
}

// Mountpoints the sandbox had to create in the image would otherwise show
// up in the layer; BuildKit removes them too. Only empty stubs go. Creating
// a stub also copies its parent dir up (its mtime changed): such a parent is
// dropped from the upper dir again when it is empty, not opaque, and its
// mode and owner are those of the lower dir it shadows.
// Synchronous file calls (a handful, on the RUN's critical path): async
// ones queued behind the build's layer writes on the threadpool.
async function removeMountStubs(upper: string, lowerDirs: string[], created: string[]): Promise<void> {
  const parents = new Set<string>();
  for (const p of [...created].reverse()) {
    const host = path.join(upper, p);
    const st = lstatQuiet(host);
    if (!st) continue;
    if (st.isDirectory()) {
      if (isEmptyDir(host)) removeQuietly(host, true);
    } else if (st.isFile() && st.size === 0) {
      removeQuietly(host, false);
    }
    for (let d = path.posix.dirname(p); d !== '/' && d !== '.'; d = path.posix.dirname(d)) parents.add(d);
  }
  for (const d of [...parents].sort((a, b) => b.length - a.length)) {
    const host = path.join(upper, d);
    const st = lstatQuiet(host);
    if (!st?.isDirectory() || !isEmptyDir(host) || await isOpaque(upper, d)) continue;
    const lower = firstLower(lowerDirs, d);
    if (lower && lower.mode === st.mode && lower.uid === st.uid && lower.gid === st.gid) removeQuietly(host, true);
  }
}

function isEmptyDir(dir: string): boolean {
  try {
    return readdirSync(dir).length === 0;
  } catch {
    return false;
  }
}

function removeQuietly(p: string, dir: boolean): void {
  try {
    if (dir) rmdirSync(p);
    else unlinkSync(p);
  } catch {
    // gone meanwhile, or no longer empty: left as it is
  }
}

// Paths (with their parents, parents first) that no lower layer has.
function missingInLowers(lowerDirs: string[], paths: string[]): string[] {
  const all = new Set<string>();
  for (const p of paths) {
    const parts = p.split('/').filter(Boolean);
    for (let i = 1; i <= parts.length; i++) all.add('/' + parts.slice(0, i).join('/'));
  }
  return [...all].sort((a, b) => a.length - b.length).filter((p) => !lowerDirs.some((dir) => lstatQuiet(path.join(dir, p))));
}

function firstLower(lowerDirs: string[], p: string) {
  for (const dir of lowerDirs) {
    const st = lstatQuiet(path.join(dir, p));
    if (st) return st.isDirectory() ? st : null;
  }
  return null;
}

// One request to the fsop helper already running for this process, not a process per directory
// (the upper dir is no mount point once the sandbox is gone).
async function isOpaque(upper: string, dir: string): Promise<boolean> {
  const value = await readXattr(upper, dir, OVERLAY_OPAQUE_XATTR).catch(() => null);
  return value?.toString() === 'y';
}

export interface RunInputs {
  step: RunStep;
  parent: StepResult;
  // Results of the stages and images the step's mounts read (`from=`), in mount order.
  sources: StepResult[];
  context: (name?: string) => Promise<BuildContext>;
  ctx: ExecContext<StepResult>;
}

export async function runStep(env: StepEnv, { step, parent, sources, context, ctx }: RunInputs): Promise<StepResult> {
  const { store } = env;
  if (step.security === 'insecure' && !env.entitlements.has('security.insecure')) {
    throw new RunFailedError(`${step.loc.file}:${step.loc.line}: RUN --security=insecure needs --allow security.insecure`);
  }
  const network = step.network === 'default' ? env.network ?? 'default' : step.network;
  if (network === 'host' && !env.entitlements.has('network.host')) {
    throw new RunFailedError(`${step.loc.file}:${step.loc.line}: RUN --network=host needs --allow network.host`);
  }
  const lowerDirs = await lowerDirsOf(store, parent);
  const user = await resolveUser(parent, lowerDirs, step.user);
  const ws = await store.snapshots.workspace({ mountPoint: true });
  const { openRuntime, defaultSpec, grantableCapabilities, withSeccomp, leaseNetworkNamespace, sandboxAvailability } = await import('../../runner-native/index.js');
  const prepared = await prepareMounts(env, step, sources, context);
  let lease: NetworkLease | null = null;
  let root: Awaited<ReturnType<typeof sandboxRoot>> | undefined;
  try {
    root = await sandboxRoot(store, lowerDirs, ws);
    lease = network === 'default' ? await leaseNetworkNamespace().catch(async (err: Error) => {
      // the network namespace is the first thing a RUN asks of the helper: say what is missing, not how it failed
      const availability = await sandboxAvailability();
      throw new RunFailedError(availability.ok
        ? `cannot set up the network of RUN: ${err.message} (RUN --network=none runs without one)`
        : `sandbox unavailable: ${availability.reason}`);
    }) : null;
    if (lease?.notice) ctx.log('stderr', `warning: ${lease.notice}\n`);
    let spec: SandboxSpec = defaultSpec({
      args: step.args,
      rootPath: root.rootPath,
      ...(root.rootLayers ? { rootLayers: root.rootLayers } : {}),
      env: withHome([...step.env, ...prepared.env], user.home),
      cwd: step.workdir,
      user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
      hostname: 'buildkitsandbox',
      // default: a namespace of its own with outbound access (runner-native/network-pool.ts)
      network: lease ? { namespacePath: lease.namespacePath } : network === 'host' ? 'host' : 'none',
      mounts: prepared.mounts,
    });
    applyResources(spec, env.runResources);
    if (step.security === 'insecure') {
      // Every capability tsbuild itself holds, every device, no syscall
      // filter: what `--security=insecure` grants (a privileged container).
      const all = grantableCapabilities();
      spec.process.capabilities = { bounding: all, effective: all, permitted: all };
      spec.linux.maskedPaths = [];
      spec.linux.readonlyPaths = [];
      spec.linux.resources = { ...spec.linux.resources, devices: [{ allow: true, access: 'rwm' }] };
      spec = withSeccomp(spec, 'unconfined');
    }
    const stateDir = path.join(store.paths.state, 'sandbox');
    const runtimeKey = `${env.runtime} ${stateDir}`;
    let runtime = runtimes.get(runtimeKey);
    if (!runtime) runtimes.set(runtimeKey, runtime = openRuntime(env.runtime, { stateDir }));
    const etcFiles = {
      ...(env.runResources?.addHosts.length ? { hosts: hostsFile(env.runResources.addHosts) } : {}),
      ...(lease?.resolvConf ? { resolvConf: lease.resolvConf } : {}),
    };
    const result = await runtime.run(spec, {
      stdin: 'ignore',
      stdout: (chunk) => ctx.log('stdout', chunk),
      stderr: (chunk) => ctx.log('stderr', chunk),
      signal: ctx.signal,
      ...(env.onIdle ? { onRunning: env.onIdle } : {}),
      // --add-host entries; slirp4netns' DNS forwarder (the host's resolver is often on its own 127.0.0.x)
      ...(etcFiles.hosts !== undefined || etcFiles.resolvConf !== undefined ? { etcFiles } : {}),
    });
    if (result.exitCode !== 0) {
      const why = result.oomKilled ? 'killed: out of memory' : result.signal ? `killed by signal ${result.signal}` : `exit code: ${result.exitCode}`;
      throw new RunFailedError(`process "${step.args.join(' ')}" did not complete successfully: ${why}`);
    }
    // An OCI runtime does not report the mountpoints it created: those of
    // the spec's mounts that the image lacks are the candidates.
    await root.finish();
    const created = runtime.reportsCreatedPaths ? result.createdPaths
      : missingInLowers(lowerDirs, [...spec.mounts.map((m) => m.destination), '/etc/hosts', '/etc/resolv.conf', '/etc/hostname']);
    await removeMountStubs(ws.upper, lowerDirs, created);
  } catch (err) {
    await root?.finish().catch(() => undefined);
    lease?.release(step.security === 'insecure');
    await prepared.release();
    await store.snapshots.discard(ws);
    throw err;
  }
  // an insecure RUN held CAP_NET_ADMIN: its namespace may be changed, nobody reuses it
  lease?.release(step.security === 'insecure');
  await prepared.release();
  return commitStep(store, parent, ws, { sourceDateEpoch: env.sourceDateEpoch }, env.layerWrites);
}

// --ulimit, --shm-size and --cgroup-parent on the RUN's sandbox spec.
function applyResources(spec: SandboxSpec, r: RunResources | undefined): void {
  if (!r) return;
  if (r.ulimits.length > 0) spec.process.rlimits = [...(spec.process.rlimits ?? []).filter((x) => !r.ulimits.some((u) => u.type === x.type)), ...r.ulimits];
  if (r.shmSize !== undefined) {
    const shm = spec.mounts.find((m) => m.destination === '/dev/shm');
    if (shm) shm.options = [...(shm.options ?? []).filter((o) => !o.startsWith('size=')), `size=${Math.ceil(r.shmSize / 1024)}k`];
  }
  if (r.cgroupParent) spec.linux.cgroupsPath = cgroupPathUnder(r.cgroupParent);
}
