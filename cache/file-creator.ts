// Creates the regular files and symlinks of a layer being unpacked,
// several at once on libuv's threadpool. Creating a file is almost all kernel time (an inode,
// a directory entry, the journal: 0.1-0.3 ms each on the dev VMs, against
// microseconds for the JavaScript around it), so an unpack is bound by
// file creations, one after another; with a few in flight, creations in
// different directories proceed in parallel on the cores the machine has,
// while the main thread goes on decompressing and parsing the tar.
//
// The caller decides what may overlap: a write in flight must not be
// needed by a later entry (a hard link to it, an entry below it, anything
// replacing it), so LayerApplier waits for the files that entry depends on
// (see `pendingAt`) or for all of them (`drain`) before such an entry.
import * as fs from 'node:fs';
import { constants as fsc } from 'node:fs';

export interface NewFile {
  abs: string;
  rel: string;
  chunks: Buffer[];
  /** Permission bits, special bits included. */
  mode: number;
  /** Owner to set, or undefined when the created file already has it. */
  owner?: { uid: number; gid: number };
  mtime: number;
}

export interface NewSymlink {
  abs: string;
  rel: string;
  target: string;
  owner?: { uid: number; gid: number };
  mtime: number;
}

// Bounds on what waits in memory: files in flight and their bytes.
const MAX_IN_FLIGHT = 16;
const MAX_BYTES_IN_FLIGHT = 16 << 20;
/** Bodies up to this size are buffered and written in parallel. */
export const PARALLEL_FILE_MAX = 1 << 20;

// O_EXCL|O_NOFOLLOW: we only ever write into a file we just created.
const CREATE = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW;

/** The process's umask, read without changing it (process.umask() would set it). */
function readUmask(): number {
  try {
    const m = /^Umask:\s*([0-7]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) return parseInt(m[1]!, 8);
  } catch { /* not Linux: assume the worst, chmod every file */ }
  return 0o777;
}
const UMASK = readUmask();

/**
 * The mode to create a file with, and whether a chmod must follow:
 * open(2) masks the mode with the umask and a chown afterwards clears the
 * setuid/setgid bits, so only modes those leave intact skip the chmod.
 */
export function createMode(mode: number): { create: number; chmod: boolean } {
  const perm = mode & 0o7777;
  return { create: perm & 0o777, chmod: (perm & UMASK) !== 0 || (perm & 0o7000) !== 0 };
}

/**
 * Writes a file that streams in (too big to buffer): the caller writes the
 * body through `write`, then closes it; owner, mode and times are set only
 * when the body is complete.
 */
export function openFileSync(f: Omit<NewFile, 'chunks'>): { write(chunk: Buffer): void; close(complete: boolean): void } {
  const { create, chmod } = createMode(f.mode);
  const fd = fs.openSync(f.abs, CREATE, create);
  return {
    write: (chunk) => writeAll(fd, chunk),
    close: (complete) => {
      try {
        if (complete) finishSync(fd, f, chmod);
      } finally {
        fs.closeSync(fd);
      }
    },
  };
}

function finishSync(fd: number, f: Omit<NewFile, 'chunks'>, chmod: boolean): void {
  if (f.owner) fs.fchownSync(fd, f.owner.uid, f.owner.gid);
  // chmod after chown: chown clears setuid/setgid bits.
  if (chmod) fs.fchmodSync(fd, f.mode & 0o7777);
  fs.futimesSync(fd, f.mtime, f.mtime);
}

/** write(2) may write less than asked; loop until the chunk is out. */
function writeAll(fd: number, chunk: Buffer): void {
  for (let off = 0; off < chunk.length; ) off += fs.writeSync(fd, chunk, off);
}

/** Files being created on the threadpool, by path relative to the layer root. */
export class ParallelFileCreator {
  private readonly inFlight = new Map<string, Promise<void>>();
  private bytes = 0;
  private failure: unknown;
  private readonly waiters: (() => void)[] = [];

  /** Whether the file at rel is still being written. */
  pendingAt(rel: string): boolean {
    return this.inFlight.has(rel);
  }

  get size(): number {
    return this.inFlight.size;
  }

  /** Starts creating f; waits first while too much is in flight. Throws an earlier write's error. */
  add(f: NewFile): Promise<void> {
    return this.start(f.rel, f.chunks.reduce((n, c) => n + c.length, 0), () => createFileAsync(f));
  }

  /** Starts creating a symlink, owned and timed as given. */
  addSymlink(l: NewSymlink): Promise<void> {
    return this.start(l.rel, 0, () => createSymlinkAsync(l));
  }

  private async start(rel: string, bytes: number, create: () => Promise<void>): Promise<void> {
    while (this.inFlight.size >= MAX_IN_FLIGHT || (this.bytes + bytes > MAX_BYTES_IN_FLIGHT && this.inFlight.size > 0)) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    this.throwIfFailed();
    this.bytes += bytes;
    const p = create().then(
      () => undefined,
      (err: unknown) => { this.failure ??= err; },
    ).finally(() => {
      this.inFlight.delete(rel);
      this.bytes -= bytes;
      this.waiters.shift()?.();
    });
    this.inFlight.set(rel, p);
  }

  /** Waits for every file in flight; throws the first error any of them hit. */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight.values()]);
    this.throwIfFailed();
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}

// Callbacks rather than fs.promises: no FileHandle object per file, and
// one threadpool round trip per call either way.
function createFileAsync(f: NewFile): Promise<void> {
  const { create, chmod } = createMode(f.mode);
  const body = f.chunks.length === 1 ? f.chunks[0]! : Buffer.concat(f.chunks);
  return new Promise((resolve, reject) => {
    fs.open(f.abs, CREATE, create, (err, fd) => {
      if (err) return reject(err);
      const close = (first: Error | null) => fs.close(fd, (e) => (first ?? e ? reject(first ?? e) : resolve()));
      const steps: ((next: (e: Error | null) => void) => void)[] = [];
      if (body.length > 0) steps.push((next) => writeAllCb(fd, body, 0, next));
      if (f.owner) { const { uid, gid } = f.owner; steps.push((next) => fs.fchown(fd, uid, gid, next)); }
      if (chmod) steps.push((next) => fs.fchmod(fd, f.mode & 0o7777, next));
      steps.push((next) => fs.futimes(fd, f.mtime, f.mtime, next));
      const run = (i: number): void => {
        if (i === steps.length) return close(null);
        steps[i]!((e) => (e ? close(e) : run(i + 1)));
      };
      run(0);
    });
  });
}

function createSymlinkAsync(l: NewSymlink): Promise<void> {
  const p = fs.promises;
  return (async () => {
    await p.symlink(l.target, l.abs);
    if (l.owner) await p.lchown(l.abs, l.owner.uid, l.owner.gid);
    await p.lutimes(l.abs, l.mtime, l.mtime);
  })();
}

function writeAllCb(fd: number, buf: Buffer, off: number, done: (e: Error | null) => void): void {
  fs.write(fd, buf, off, buf.length - off, null, (err, n) => {
    if (err) return done(err);
    if (off + n < buf.length) return writeAllCb(fd, buf, off + n, done);
    done(null);
  });
}
