// Network namespaces with outbound access, for RUN's default network (and
// `tsbuild run`'s private one, whose container joins a namespace of its
// own this way, ready before its command starts, and never reused): a
// namespace of its own, reaching out through slirp4netns started with
// --disable-host-loopback (the host's 127.0.0.1 services stay out of
// reach), as `docker build` gives every RUN its own namespace. Making one
// costs a process and a slirp4netns start, so namespaces are pooled: a RUN
// leases a free one (or a new one), and hands it back when it ends; RUN
// steps running in parallel get different namespaces. Whatever a RUN
// started has died with its PID namespace before the next one gets the
// namespace, and RUN cannot change the namespace's interfaces or routes (no
// CAP_NET_ADMIN); a RUN that could (--security=insecure) gets a namespace
// nobody reuses.
//
// A namespace is held by `tsbuild-sandbox netns` (helper/netns-holder.c),
// which reads a pipe from us: when tsbuild exits or is killed, the pipe
// closes (or its PDEATHSIG fires) and the holder exits, and slirp4netns
// follows through its --exit-fd. Nothing is left on the host.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { defaultHelperPath } from './availability.js';
import { killFsopChild, takePrivateFsopChild, type FsopChild, type FsopChildSpec } from './fsop.js';
import { SLIRP4NETNS, SLIRP_DNS, slirpInstalled, slirpOptions } from './slirp.js';
import { inUserNamespace } from './user-namespace.js';

export interface NetworkLease {
  /** /proc/<holder>/ns/net, for the sandbox spec */
  namespacePath: string;
  /** what /etc/resolv.conf must say in this namespace */
  resolvConf?: string;
  /** a one-line note for the build output (no outbound network), once per process */
  notice?: string;
  /** gives the namespace back; `discard` when the RUN could have changed it */
  release(discard?: boolean): void;
}

/** A running holder, whoever started it: this process, or the fsop helper for it. */
interface HolderProcess {
  readonly pid: number;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** true once it exited */
  exited(): boolean;
  /** calls back once, when it exited (or could not start) */
  onEnd(f: (why: string) => void): void;
  kill(): void;
  /** it must not keep tsbuild alive, nor its pipes */
  unref(): void;
}

interface Holder {
  process: HolderProcess;
  /** slirp4netns runs for the namespace (the holder started it) */
  slirp: boolean;
  /** why slirp4netns did not start although installed (rootless only) */
  slirpProblem?: string;
}

// The holder starts slirp4netns itself (`netns --slirp ...`, see
// helper/netns-holder.c): one fork of this Node process per namespace,
// not two, and slirp4netns ends with its holder.
const READY_TIMEOUT_MS = 5000;

/** The fsop helper's child under this key is a holder (fsop-children.c), made with these arguments. */
const FSOP_CHILD_KEY = 'netns';

function holderArgs(withSlirp: boolean): string[] {
  return ['netns', ...(withSlirp ? ['--slirp', SLIRP4NETNS, ...slirpOptions()] : [])];
}

/**
 * A holder for the fsop helper to start as it starts (FsopChildSpec): the
 * build asks for one when it will run a RUN with a network of its own,
 * and the pool then takes it instead of forking this process for one.
 */
export function netnsHolderChild(): FsopChildSpec {
  // stdin and stdout on one socket (it only reads stdin's end), stderr apart
  return { key: FSOP_CHILD_KEY, args: [defaultHelperPath(), ...holderArgs(slirpInstalled())], fds: [0, 0, 1] };
}

function spawnedHolder(): { process: HolderProcess; withSlirp: boolean } {
  const withSlirp = slirpInstalled();
  const child: ChildProcess = spawn(defaultHelperPath(), holderArgs(withSlirp), { stdio: ['pipe', 'pipe', 'pipe'] });
  return {
    withSlirp,
    process: {
      get pid() { return child.pid ?? 0; },
      stdout: child.stdout!, stderr: child.stderr!,
      exited: () => child.exitCode !== null || child.signalCode !== null,
      onEnd: (f) => {
        child.once('error', (err) => f(`cannot start ${defaultHelperPath()} netns: ${err.message}`));
        child.once('exit', (code) => f(`${defaultHelperPath()} netns exited with ${code}`));
      },
      kill: () => child.kill('SIGKILL'),
      unref: () => {
        child.unref();
        for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as unknown as { unref?: () => void } | null)?.unref?.();
      },
    },
  };
}

// Its pid comes with the fsop helper's first reply; its end shows as the
// end of its stdout. A dead one stays the helper's zombie while the helper
// lives, so the pid is never another's while the helper is alive.
async function fsopHolder(child: FsopChild): Promise<{ process: HolderProcess; withSlirp: boolean } | undefined> {
  const pid = await child.pid;
  // its stdin and stdout are one socket
  const [stdout, stderr] = child.stdio as [Socket, Socket];
  let ended = stdout.destroyed || stdout.readableEnded;
  stdout.once('close', () => { ended = true; });
  if (pid === 0 || ended) {
    stdout.destroy();
    return undefined;
  }
  for (const s of [stdout, stderr]) s.ref();
  return {
    withSlirp: slirpInstalled(),
    process: {
      pid, stdout, stderr,
      exited: () => ended,
      onEnd: (f) => stdout.once('close', () => f(`${defaultHelperPath()} netns exited`)),
      // Its stdin closed, it exits (once it reads it, after it got ready): killed too.
      kill: () => {
        if (!ended) killFsopChild(child, pid);
        stdout.destroy();
      },
      unref: () => { for (const s of [stdout, stderr]) s.unref(); },
    },
  };
}

async function startHolder(fromFsop?: FsopChild): Promise<Holder> {
  const started = (fromFsop && await fsopHolder(fromFsop)) || spawnedHolder();
  const { process: child, withSlirp } = started;
  let output = '';
  let errors = '';
  const state = await new Promise<'ready' | 'slirp-failed'>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`the network namespace was not ready after ${READY_TIMEOUT_MS} ms: ${errors.trim()}`));
    }, READY_TIMEOUT_MS);
    let settled = false;
    const fail = (err: Error) => { clearTimeout(timer); settled = true; reject(err); };
    child.onEnd((why) => { if (!settled) fail(new Error(`${why}: ${(output + errors).trim()}`)); });
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const line = /^(ready|slirp-failed)\n/m.exec(output);
      if (!line || settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(line[1] as 'ready' | 'slirp-failed');
    });
    child.stderr.on('data', (chunk: Buffer) => { errors += chunk.toString(); });
  });
  child.unref();
  if (state === 'ready') return { process: child, slirp: withSlirp };
  // The holder's last line says how slirp4netns ended, the one before it why.
  const [why, how] = errors.trim().split('\n').slice(-2).reverse();
  const problem = how ? `${why}: ${how}` : why || 'slirp4netns failed';
  // Rootless, slirp4netns can fail for reasons of the host's (a
  // /dev/net/tun the user may not open): RUN still runs, loopback only.
  if (inUserNamespace()) return { process: child, slirp: false, slirpProblem: problem };
  child.kill();
  throw new Error(problem);
}

function stopHolder(h: Holder): void {
  // slirp4netns follows: its exit fd closes with the holder
  h.process.kill();
}

/** The namespaces of one tsbuild process, shared by its builds' RUN steps. */
class NetworkPool {
  private free: Holder[] = [];
  private noticeShown = false;
  // A namespace being made before a RUN asked for it (see prewarm).
  private warming: Promise<Holder | undefined> | undefined;

  /** Starts making a namespace now, when none is free, so that the next lease finds it (or finds it nearly made). */
  prewarm(): void {
    if (this.warming || this.free.some((h) => !h.process.exited())) return;
    // A failure is lease()'s to report: it tries again then.
    this.warming = startHolder(this.fromFsop()).catch(() => undefined);
  }

  // The holder the fsop helper started for the build, if it did, made as this process would make one now.
  private fromFsop(): FsopChild | undefined {
    const child = takePrivateFsopChild(FSOP_CHILD_KEY);
    if (!child) return undefined;
    // slirp4netns' options may have changed since (allowSlirpHostLoopback)
    if (netnsHolderChild().args.join('\0') === child.args.join('\0')) return child;
    child.stdio[0]?.destroy();
    return undefined;
  }

  async lease(): Promise<NetworkLease> {
    let holder = this.free.pop();
    while (holder && holder.process.exited()) holder = this.free.pop();
    if (!holder && this.warming) {
      const warming = this.warming;
      this.warming = undefined;
      holder = await warming;
    }
    holder ??= await startHolder(this.fromFsop());
    const h = holder;
    let notice: string | undefined;
    if (!h.slirp && !this.noticeShown) {
      this.noticeShown = true;
      notice = h.slirpProblem
        ? `rootless: slirp4netns failed (${h.slirpProblem}; can this user open /dev/net/tun?): RUN gets an isolated network with loopback only`
        : 'slirp4netns is not installed (apt-get install slirp4netns): RUN gets an isolated network with loopback only';
    }
    let released = false;
    return {
      namespacePath: `/proc/${h.process.pid}/ns/net`,
      ...(h.slirp ? { resolvConf: `nameserver ${SLIRP_DNS}\n` } : {}),
      ...(notice ? { notice } : {}),
      release: (discard = false) => {
        if (released) return;
        released = true;
        if (discard || h.process.exited()) stopHolder(h);
        else this.free.push(h);
      },
    };
  }
}

let pool: NetworkPool | undefined;

/** A network namespace with outbound access for one RUN (pass its path as the spec's network). */
export function leaseNetworkNamespace(): Promise<NetworkLease> {
  pool ??= new NetworkPool();
  return pool.lease();
}

/**
 * Has a namespace made while the build does other work (a COPY before a
 * RUN): making one costs two process starts, which the first RUN would
 * otherwise wait for. An unused one dies with tsbuild like the others.
 */
export function prewarmNetworkNamespace(): void {
  pool ??= new NetworkPool();
  pool.prewarm();
}
