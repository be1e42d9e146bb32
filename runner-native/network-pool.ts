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
import { defaultHelperPath } from './availability.js';
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

interface Holder {
  process: ChildProcess;
  /** slirp4netns runs for the namespace (the holder started it) */
  slirp: boolean;
  /** why slirp4netns did not start although installed (rootless only) */
  slirpProblem?: string;
}

// The holder starts slirp4netns itself (`netns --slirp ...`, see
// helper/netns-holder.c): one fork of this Node process per namespace,
// not two, and slirp4netns ends with its holder.
const READY_TIMEOUT_MS = 5000;

async function startHolder(): Promise<Holder> {
  const helper = defaultHelperPath();
  const withSlirp = slirpInstalled();
  const child = spawn(helper, ['netns', ...(withSlirp ? ['--slirp', SLIRP4NETNS, ...slirpOptions()] : [])], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  let errors = '';
  const state = await new Promise<'ready' | 'slirp-failed'>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the network namespace was not ready after ${READY_TIMEOUT_MS} ms: ${errors.trim()}`));
    }, READY_TIMEOUT_MS);
    const fail = (err: Error) => { clearTimeout(timer); reject(err); };
    child.once('error', (err) => fail(new Error(`cannot start ${helper} netns: ${err.message}`)));
    child.once('exit', (code) => fail(new Error(`${helper} netns exited with ${code}: ${(output + errors).trim()}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const line = /^(ready|slirp-failed)\n/m.exec(output);
      if (!line) return;
      clearTimeout(timer);
      resolve(line[1] as 'ready' | 'slirp-failed');
    });
    child.stderr!.on('data', (chunk: Buffer) => { errors += chunk.toString(); });
  });
  child.removeAllListeners('exit');
  // the holder must not keep tsbuild alive, nor its pipes
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as unknown as { unref?: () => void } | null)?.unref?.();
  if (state === 'ready') return { process: child, slirp: withSlirp };
  // The holder's last line says how slirp4netns ended, the one before it why.
  const [why, how] = errors.trim().split('\n').slice(-2).reverse();
  const problem = how ? `${why}: ${how}` : why || 'slirp4netns failed';
  // Rootless, slirp4netns can fail for reasons of the host's (a
  // /dev/net/tun the user may not open): RUN still runs, loopback only.
  if (inUserNamespace()) return { process: child, slirp: false, slirpProblem: problem };
  child.kill('SIGKILL');
  throw new Error(problem);
}

function stopHolder(h: Holder): void {
  // slirp4netns follows: its exit fd closes with the holder
  h.process.kill('SIGKILL');
}

/** The namespaces of one tsbuild process, shared by its builds' RUN steps. */
class NetworkPool {
  private free: Holder[] = [];
  private noticeShown = false;
  // A namespace being made before a RUN asked for it (see prewarm).
  private warming: Promise<Holder | undefined> | undefined;

  /** Starts making a namespace now, when none is free, so that the next lease finds it (or finds it nearly made). */
  prewarm(): void {
    if (this.warming || this.free.some((h) => h.process.exitCode === null)) return;
    // A failure is lease()'s to report: it tries again then.
    this.warming = startHolder().catch(() => undefined);
  }

  async lease(): Promise<NetworkLease> {
    let holder = this.free.pop();
    while (holder && holder.process.exitCode !== null) holder = this.free.pop();
    if (!holder && this.warming) {
      const warming = this.warming;
      this.warming = undefined;
      holder = await warming;
    }
    holder ??= await startHolder();
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
        if (discard || h.process.exitCode !== null) stopHolder(h);
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
