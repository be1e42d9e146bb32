// RUN: the command in a sandbox whose root is an overlay of the parent's
// snapshots with a fresh upper dir; the upper dir becomes the layer.
import { readdir, rm, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { RunStep } from '../../frontend/graph/types.js';
import { DOCKER_DEFAULT_CAPS, Sandbox, defaultSpec, type SandboxSpec } from '../../runner-native/index.js';
import type { Store } from '../build/open-store.js';
import type { BuildOptions } from '../build/options.js';
import type { StepResult } from '../build/step-result.js';
import type { BuildContext } from '../context/context.js';
import type { ExecContext } from '../solver/vertex.js';
import { commitStep, lowerDirsOf, withReadonlyRootfs } from './rootfs.js';
import { prepareMounts } from './run-mounts.js';
import { resolveProcessUser, type ProcessUser } from './user.js';

export class RunFailedError extends Error {
  readonly userError = true;
  readonly code = 'RUN_FAILED';
}

// Every capability the kernel knows: what `--security=insecure` grants.
const ALL_CAPS = [...DOCKER_DEFAULT_CAPS, 'CAP_DAC_READ_SEARCH', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_LEASE', 'CAP_AUDIT_CONTROL',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ'];

// Proxy variables reach the step's environment but never its cache key.
const PROXY_VARS = new Set(['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy']);

export function describeRun(step: RunStep, bindSourceDigests: (string | undefined)[]): unknown {
  return {
    op: 'run',
    args: step.args,
    env: step.env.filter((e) => !PROXY_VARS.has(e.slice(0, e.indexOf('=')))),
    user: step.user, workdir: step.workdir, network: step.network, security: step.security,
    files: step.files,
    // Secrets and SSH sockets never enter the key: only that they are mounted where.
    mounts: step.mounts.map((m, i) => m.type === 'secret' || m.type === 'ssh'
      ? { type: m.type, target: m.target, id: m.id, env: m.env, required: m.required }
      : { ...m, from: m.from?.type === 'image' ? { type: 'image', ref: m.from.ref } : m.from, content: bindSourceDigests[i] }),
  };
}

let sandbox: Sandbox | undefined;

async function resolveUser(store: Store, parent: StepResult, user: string): Promise<ProcessUser> {
  if (user === '' || user === 'root' || user === '0' || user === '0:0') return { uid: 0, gid: 0, additionalGids: [], home: '/root' };
  return withReadonlyRootfs(store, parent, (root) => resolveProcessUser(root, user));
}

// Mountpoints the sandbox had to create in the image would otherwise show
// up in the layer; BuildKit removes them too. Only empty stubs go.
async function removeMountStubs(upper: string, created: string[]): Promise<void> {
  for (const p of [...created].reverse()) {
    const host = path.join(upper, p);
    const st = await stat(host).catch(() => null);
    if (!st) continue;
    if (st.isDirectory()) {
      if ((await readdir(host)).length === 0) await rmdir(host).catch(() => undefined);
    } else if (st.isFile() && st.size === 0) {
      await rm(host, { force: true });
    }
  }
}

export async function runStep(store: Store, opts: BuildOptions, step: RunStep, parent: StepResult, sources: StepResult[],
  context: () => Promise<BuildContext>, sourceDateEpoch: number | undefined, ctx: ExecContext<StepResult>): Promise<StepResult> {
  if (step.security === 'insecure' && !opts.allow.includes('security.insecure')) {
    throw new RunFailedError(`${step.loc.file}:${step.loc.line}: RUN --security=insecure needs --allow security.insecure`);
  }
  const user = await resolveUser(store, parent, step.user);
  const lowerDirs = await lowerDirsOf(store, parent);
  const ws = await store.snapshots.workspace();
  const prepared = await prepareMounts(store, opts, step, sources, context);
  try {
    const spec: SandboxSpec = defaultSpec({
      args: step.args,
      rootPath: ws.merged,
      rootLayers: { lowerDirs, upperDir: ws.upper, workDir: ws.work },
      env: [...step.env, ...prepared.env],
      cwd: step.workdir,
      user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
      hostname: 'buildkitsandbox',
      // The default network is the host's, so package managers work (as with docker build).
      network: step.network === 'none' ? 'none' : 'host',
      mounts: prepared.mounts,
    });
    if (step.security === 'insecure') {
      spec.process.capabilities = { bounding: ALL_CAPS, effective: ALL_CAPS, permitted: ALL_CAPS };
      spec.linux.maskedPaths = [];
      spec.linux.readonlyPaths = [];
    }
    sandbox ??= new Sandbox({ stateDir: path.join(store.paths.state, 'sandbox') });
    const result = await sandbox.run(spec, {
      stdin: 'ignore',
      stdout: (chunk) => ctx.log('stdout', chunk),
      stderr: (chunk) => ctx.log('stderr', chunk),
      signal: ctx.signal,
    });
    if (result.exitCode !== 0) {
      const why = result.oomKilled ? 'killed: out of memory' : result.signal ? `killed by signal ${result.signal}` : `exit code: ${result.exitCode}`;
      throw new RunFailedError(`process "${step.args.join(' ')}" did not complete successfully: ${why}`);
    }
    await removeMountStubs(ws.upper, result.createdPaths);
  } catch (err) {
    await prepared.release();
    await store.snapshots.discard(ws);
    throw err;
  }
  await prepared.release();
  return commitStep(store, parent, ws, sourceDateEpoch);
}
