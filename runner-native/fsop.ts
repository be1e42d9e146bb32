// Client of `tsbuild-sandbox fsop` (helper/fsop.c): device nodes, extended
// attributes and mounts by syscall, for which Node has no API. One helper
// process serves every request of this tsbuild process; requests are
// pipelined (written without waiting) and answered in order, so a layer
// of thousands of xattrs costs one process, not one per file.
//
// Every path is a (root, path inside root) pair; the helper resolves the
// inner path with openat2(RESOLVE_IN_ROOT), so symlinks stay inside root.
import type { Socket } from 'node:net';
import { constants as os } from 'node:os';
import { defaultHelperPath } from './availability.js';
import { spawnHelperProcess, type HelperProcess } from './helper-process.js';

const OP = { mknod: 1, setxattr: 2, getxattr: 3, xattrTree: 4, mount: 5, umount: 6, removexattr: 7 } as const;

export const MS_RDONLY = 1;
export const MNT_DETACH = 2;

export type NodeKind = 'char' | 'block' | 'fifo';

export interface NodeSpec {
  kind: NodeKind;
  /** Permission bits (07777). */
  mode: number;
  major?: number;
  minor?: number;
  uid: number;
  gid: number;
}

/** A failed request: `code` is the errno name (ENOENT, EPERM, ...). */
export class FsopError extends Error {
  constructor(readonly code: string, readonly errno: number, message: string) {
    super(message);
  }
}

interface Pending {
  resolve(payload: Buffer): void;
  reject(err: Error): void;
}

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;

const errnoNames = new Map<number, string>(Object.entries(os.errno).map(([name, n]) => [n, name]));

/**
 * A process the helper starts for us as it starts (helper/fsop-children.c):
 * a fork of the small helper instead of this whole process, whose fork
 * blocks this thread for milliseconds.
 */
export interface FsopChildSpec {
  /** what takeChild() asks for */
  key: string;
  /** the program's path, then its arguments */
  args: readonly string[];
  /**
   * Its fds 0, 1, ...: each the index of one of its sockets (FsopChild.stdio),
   * so that one socket may serve two fds ([0, 0, 1]: in and out on one).
   * Each socket costs this process a stream to set up.
   */
  fds: readonly number[];
}

export interface FsopChild {
  /** 0 when it could not be started */
  pid: Promise<number>;
  /** our ends of its sockets (FsopChildSpec.fds; unref'd: whoever uses them refs them) */
  stdio: Socket[];
  /** the helper's pid: the child's parent, which never reaps it while alive */
  parentPid: number;
  /** as asked for (FsopChildSpec.args) */
  args: readonly string[];
  /** while true, the child's pid is still the child's (see killFsopChild) */
  parentAlive(): boolean;
}

/**
 * SIGKILLs a child the helper started, only while the helper lives: it
 * never reaps a child, so until it exits a dead child stays its zombie and
 * the pid cannot be another process's. (Once the helper is gone, so is the
 * child: PDEATHSIG.)
 */
export function killFsopChild(child: FsopChild, pid: number): void {
  if (!child.parentAlive()) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // a zombie already, or never started
  }
}

export class FsopHelper {
  private readonly child: HelperProcess;
  private readonly queue: Pending[] = [];
  private chunks: Buffer[] = [];
  private buffered = 0;
  private failure: Error | undefined;
  private readonly children = new Map<string, FsopChild>();

  /**
   * privateMounts: the helper lives in a mount namespace of its own, so its
   * mounts are seen only through viewPath() and vanish when it dies.
   * children: processes it starts for us first (see FsopChildSpec).
   */
  constructor(readonly privateMounts: boolean, helperPath = defaultHelperPath(), children: readonly FsopChildSpec[] = []) {
    const args = ['fsop', '--owner', String(process.pid), ...(privateMounts ? ['--private-mounts'] : [])];
    // Each child's sockets follow our stdio: its first is our fd firstFds[i].
    const firstFds: number[] = [];
    let sockets = 3;
    for (const c of children) {
      firstFds.push(sockets);
      args.push('--child', c.fds.map((k) => sockets + k).join(','), String(c.args.length), ...c.args);
      sockets += socketsOf(c);
    }
    this.child = spawnHelperProcess(helperPath, args, sockets);
    const [stdin, stdout, stderr] = this.child.stdio;
    const said: Buffer[] = [];
    stderr!.on('data', (b: Buffer) => said.push(b));
    stdout!.on('data', (b: Buffer) => this.onData(b));
    stdin!.on('error', () => { /* reported by its end */ });
    this.child.onEnd(({ error, code, signal }) => {
      if (error) {
        this.fail(error.code === 'ENOENT' ? new Error(`the native helper ${helperPath} is missing; run \`npm run build\` (needs a C compiler)`) : error);
        return;
      }
      const why = Buffer.concat(said).toString('utf8').trim();
      this.fail(new Error(`the fsop helper exited (${signal ?? code})${why ? `: ${why}` : ''}`));
    });
    this.idle();
    if (children.length > 0) this.expectChildren(children, firstFds);
  }

  // Their pids are the helper's first reply, before any request's.
  private expectChildren(children: readonly FsopChildSpec[], firstFds: readonly number[]): void {
    const pids = new Promise<Buffer>((resolve, reject) => this.queue.push({ resolve, reject }));
    this.busy();
    children.forEach((c, i) => {
      const stdio = this.child.stdio.slice(firstFds[i], firstFds[i]! + socketsOf(c));
      for (const s of stdio) {
        s.on('error', () => undefined);
        s.unref();
      }
      const pid = pids.then((b) => (b.length >= 4 * (2 + i) ? b.readUInt32LE(4 * (1 + i)) : 0), () => 0);
      this.children.set(c.key, { pid, stdio, parentPid: this.pid, args: c.args, parentAlive: () => this.alive });
    });
  }

  /** A child started for us under that key (FsopChildSpec), once: the next call gets undefined. */
  takeChild(key: string): FsopChild | undefined {
    const c = this.children.get(key);
    this.children.delete(key);
    return this.alive ? c : undefined;
  }

  /** False once the helper exited (a private one's mounts are gone then). */
  get alive(): boolean {
    return this.failure === undefined;
  }

  /** The pid whose /proc/<pid>/root shows this helper's mounts. */
  get pid(): number {
    return this.child.pid;
  }

  /** Where Node reaches a host path as this helper sees it (its mounts included). */
  viewPath(hostPath: string): string {
    return this.privateMounts ? `/proc/${this.pid}/root${hostPath}` : hostPath;
  }

  async mknod(root: string, rel: string, spec: NodeSpec): Promise<void> {
    const type = spec.kind === 'char' ? S_IFCHR : spec.kind === 'block' ? S_IFBLK : S_IFIFO;
    await this.request(OP.mknod, [root, rel, u32(type | (spec.mode & 0o7777)), u32(spec.major ?? 0), u32(spec.minor ?? 0), u32(spec.uid), u32(spec.gid)]);
  }

  /** Sets an xattr on rel itself (a symlink is not followed). */
  async setXattr(root: string, rel: string, name: string, value: Buffer): Promise<void> {
    await this.request(OP.setxattr, [root, rel, name, value]);
  }

  /** Removes an xattr of rel itself (none of that name is not an error). */
  async removeXattr(root: string, rel: string, name: string): Promise<void> {
    await this.request(OP.removexattr, [root, rel, name]);
  }

  /** One xattr of rel itself, or null when it has none of that name. */
  async getXattr(root: string, rel: string, name: string): Promise<Buffer | null> {
    try {
      return await this.request(OP.getxattr, [root, rel, name]);
    } catch (err) {
      if (err instanceof FsopError && (err.code === 'ENODATA' || err.code === 'ENOTSUP')) return null;
      throw err;
    }
  }

  /**
   * Every xattr under root, keyed by path relative to root ('' = root);
   * symlinks are listed, never followed. Files without any are absent.
   */
  async xattrTree(root: string): Promise<Map<string, Map<string, Buffer>>> {
    const payload = await this.request(OP.xattrTree, [root]);
    const out = new Map<string, Map<string, Buffer>>();
    let pos = 0;
    const field = (): Buffer => {
      const len = payload.readUInt32LE(pos);
      const b = payload.subarray(pos + 4, pos + 4 + len);
      pos += 4 + len;
      return b;
    };
    while (pos < payload.length) {
      const rel = field().toString('utf8');
      const name = field().toString('utf8');
      const value = Buffer.from(field());
      let attrs = out.get(rel);
      if (!attrs) out.set(rel, (attrs = new Map()));
      attrs.set(name, value);
    }
    return out;
  }

  async mount(root: string, rel: string, fstype: string, source: string, data: string, flags = 0): Promise<void> {
    await this.request(OP.mount, [root, rel, fstype, source, data, u32(flags)]);
  }

  async unmount(root: string, rel: string, flags = 0): Promise<void> {
    await this.request(OP.umount, [root, rel, u32(flags)]);
  }

  /** Ends the helper (its private mounts go with it). */
  close(): void {
    this.child.stdio[0]!.end();
  }

  private request(op: number, fields: (string | Buffer)[]): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    const parts: Buffer[] = [Buffer.alloc(5)];
    let len = 1;
    for (const f of fields) {
      const b = typeof f === 'string' ? Buffer.from(f) : f;
      parts.push(u32(b.length), b);
      len += 4 + b.length;
    }
    parts[0]!.writeUInt32LE(len, 0);
    parts[0]![4] = op;
    return new Promise<Buffer>((resolve, reject) => {
      if (this.queue.length === 0) this.busy();
      this.queue.push({ resolve, reject });
      this.child.stdio[0]!.write(Buffer.concat(parts));
    });
  }

  private onData(b: Buffer): void {
    this.chunks.push(b);
    this.buffered += b.length;
    for (;;) {
      if (this.buffered < 8) return;
      if (this.chunks[0]!.length < 8) this.chunks = [Buffer.concat(this.chunks)];
      const len = this.chunks[0]!.readUInt32LE(0);
      // Join the chunks only once a whole reply is there: a big reply
      // (an xattr tree) arrives in many chunks.
      if (this.buffered < 4 + len) return;
      const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
      const err = all.readInt32LE(4);
      const payload = all.subarray(8, 4 + len);
      const rest = all.subarray(4 + len);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.buffered = rest.length;
      const pending = this.queue.shift();
      if (this.queue.length === 0) this.idle();
      if (!pending) continue;
      if (err === 0) pending.resolve(payload);
      else pending.reject(new FsopError(errnoNames.get(err) ?? `E${err}`, err, payload.toString('utf8')));
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const p of this.queue.splice(0)) p.reject(this.failure);
    this.idle();
  }

  // An idle helper must not keep Node running; a busy one must.
  private idle(): void {
    this.child.unref();
  }

  private busy(): void {
    this.child.ref();
  }
}

function socketsOf(c: FsopChildSpec): number {
  return Math.max(...c.fds) + 1;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0, 0);
  return b;
}

let hostHelper: FsopHelper | undefined;
let privateHelper: FsopHelper | undefined;

/** The process-wide helper in the host's mount namespace (mounts others must see). */
export function hostFsop(): FsopHelper {
  if (!hostHelper?.alive) hostHelper = new FsopHelper(false);
  return hostHelper;
}

/**
 * The process-wide helper with a private mount namespace (mounts only Node
 * uses). `children`: what it starts for us when this call starts it.
 */
export function privateFsop(children: readonly FsopChildSpec[] = []): FsopHelper {
  if (!privateHelper?.alive) privateHelper = new FsopHelper(true, defaultHelperPath(), children);
  return privateHelper;
}

/** A child the private helper started for us under that key, if it runs and did (once). */
export function takePrivateFsopChild(key: string): FsopChild | undefined {
  return privateHelper?.takeChild(key);
}

/**
 * Whichever helper already runs (the host one if none does), for a request
 * about a directory that neither is nor holds a mount point: both mount
 * namespaces see the same files there, and starting a second helper (a
 * fork of this whole process) is the dearest part of such a request.
 */
export function runningFsop(): FsopHelper {
  if (hostHelper?.alive) return hostHelper;
  if (privateHelper?.alive) return privateHelper;
  return hostFsop();
}
