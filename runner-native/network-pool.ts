// Network namespaces with outbound access, for RUN's default network: a
// namespace of its own with outbound access through slirp4netns (started with --disable-host-loopback, so the
// host's 127.0.0.1 services stay out of reach), as `docker build` gives
// every RUN its own namespace. Making one costs a process and a slirp4netns
// start, so namespaces are pooled: a RUN leases a free one (or a new one),
// and hands it back when it ends; RUN steps running in parallel get
// different namespaces. Whatever a RUN started has died with its PID
// namespace before the next one gets the namespace, and RUN cannot change
// the namespace's interfaces or routes (no CAP_NET_ADMIN); a RUN that could
// (--security=insecure) gets a namespace nobody reuses.
//
// A namespace is held by `unshare --net cat` reading a pipe from us: when
// tsbuild exits or is killed, the pipe closes and the holder exits, and
// slirp4netns follows through its --exit-fd. Nothing is left on the host.
import { spawn, type ChildProcess } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { SLIRP_DNS, slirpInstalled, startSlirp, type SlirpHandle } from './slirp.js';

export interface NetworkLease {
  /** /proc/<holder>/ns/net, for the sandbox spec */
  namespacePath: string;
  /** what /etc/resolv.conf must say in this namespace */
  resolvConf?: string;
  /** a one-line note for the build output (no outbound network), once per build */
  notice?: string;
  /** gives the namespace back; `discard` when the RUN could have changed it */
  release(discard?: boolean): void;
}

interface Holder {
  process: ChildProcess;
  slirp: SlirpHandle | null;
}

const UNSHARE = 'unshare';

async function startHolder(): Promise<Holder> {
  const child = spawn(UNSHARE, ['--net', 'cat'], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
  await new Promise<void>((resolve, reject) => {
    child.once('error', (err) => reject(new Error(`cannot start ${UNSHARE}: ${err.message}`)));
    child.once('exit', (code) => reject(new Error(`${UNSHARE} --net exited with ${code}: ${stderr.trim()}`)));
    // cat runs once unshare has made the namespace and exec'd it
    const poll = () => {
      if (child.pid === undefined || child.exitCode !== null) return;
      try {
        if (readlinkSync(`/proc/${child.pid}/exe`).endsWith('/cat')) { resolve(); return; }
      } catch { /* not there yet */ }
      setTimeout(poll, 2);
    };
    child.once('spawn', poll);
  });
  child.removeAllListeners('exit');
  // the holder must not keep tsbuild alive, nor its pipes
  child.unref();
  for (const stream of [child.stdin, child.stderr]) (stream as unknown as { unref?: () => void } | null)?.unref?.();
  const slirp = slirpInstalled()
    ? await startSlirp(child.pid!, { background: true }).catch((err: Error) => { child.kill('SIGKILL'); throw err; })
    : null;
  return { process: child, slirp };
}

function stopHolder(h: Holder): void {
  void h.slirp?.stop();
  h.process.kill('SIGKILL');
}

/** The namespaces of one tsbuild process, shared by its builds' RUN steps. */
class NetworkPool {
  private free: Holder[] = [];
  private noticeShown = false;

  async lease(): Promise<NetworkLease> {
    let holder = this.free.pop();
    while (holder && holder.process.exitCode !== null) holder = this.free.pop();
    holder ??= await startHolder();
    const h = holder;
    let notice: string | undefined;
    if (!h.slirp && !this.noticeShown) {
      this.noticeShown = true;
      notice = 'slirp4netns is not installed (apt-get install slirp4netns): RUN gets an isolated network with loopback only';
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
