// A cross-process lock made of a lock file created with O_EXCL. Node has no
// flock(), and O_EXCL create is atomic on every local filesystem, so exactly
// one process wins. The file holds the owner's pid and a random token:
//  - a lock whose pid is dead is stale (the owner was killed) and is broken;
//  - release only removes the file if it still holds our token, so a process
//    whose lock was (wrongly) broken can never delete someone else's lock.
//  - a lock that names no owner (its maker was killed between creating and
//    writing it) is stale once OWNERLESS_STALE_MS old.
// Known limit: two waiters breaking the same stale lock at the same instant
// can, in a microsecond window, both proceed. Stale locks only exist after a
// crash, so we accept that rather than build a lease protocol.

import { closeSync, openSync, promises as fs, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from '../../runner-native/native-crypto.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { ImageError } from './errors.js';

export interface LockOptions {
  /** Give up after this long (default 60 s). */
  timeoutMs?: number;
}

/**
 * A lock file that names no owner this long after it was made is stale: its
 * maker writes its pid right after creating it, so only one killed in
 * between (kill -9 at that instant: the e2e-copy-kill test hit it once)
 * leaves such a file. (It was 10 minutes, all that time blocking every
 * build of the store.)
 */
export const OWNERLESS_STALE_MS = 2000;

interface LockContent {
  pid: number;
  token: string;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to another user.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readLock(lockPath: string): Promise<LockContent | undefined> {
  try {
    const parsed = JSON.parse(await fs.readFile(lockPath, 'utf8')) as Partial<LockContent>;
    if (typeof parsed.pid === 'number' && typeof parsed.token === 'string') return { pid: parsed.pid, token: parsed.token };
  } catch {
    // Missing, or caught between create and write: not known to be stale.
  }
  return undefined;
}

async function isStale(lockPath: string): Promise<boolean> {
  const content = await readLock(lockPath);
  return content ? !processAlive(content.pid) : ownerlessIsStale(lockPath);
}

/** Whether a file its maker writes its owner into right after creating it, found naming none, is old enough to be a dead maker's. */
export async function ownerlessIsStale(file: string): Promise<boolean> {
  const st = await fs.stat(file).catch(() => undefined);
  return st !== undefined && Date.now() - st.mtimeMs > OWNERLESS_STALE_MS;
}

/** Take the lock at `lockPath`; returns the function that releases it. */
export async function acquireLock(lockPath: string, opts: LockOptions = {}): Promise<() => Promise<void>> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const token = randomBytes(12).toString('hex');
  const deadline = Date.now() + timeoutMs;
  let delay = 2;
  for (;;) {
    // An attempt and a release are synchronous: a few small-file calls,
    // where threadpool round trips waited behind the build's background
    // work. Only waiting for another holder takes turns.
    try {
      const fd = openSync(lockPath, 'wx', 0o644);
      try {
        writeFileSync(fd, JSON.stringify({ pid: process.pid, token } satisfies LockContent));
      } catch (e) {
        // An ownerless lock file would block everyone until it went stale.
        closeSync(fd);
        rmSync(lockPath, { force: true });
        throw e;
      }
      closeSync(fd);
      return () => releaseLock(lockPath, token);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    if (await isStale(lockPath)) {
      // Rename first so that only one breaker removes this particular file.
      const aside = `${lockPath}.stale-${token}`;
      try {
        await fs.rename(lockPath, aside);
        await fs.rm(aside, { force: true });
      } catch {
        // Someone else broke or released it first; just retry.
      }
      continue;
    }
    if (Date.now() > deadline) {
      const owner = await readLock(lockPath);
      throw new ImageError('LOCK_TIMEOUT', `timed out waiting for lock ${lockPath}${owner ? ` held by pid ${owner.pid}` : ''}`);
    }
    await sleep(delay + Math.random() * delay);
    delay = Math.min(delay * 2, 100);
  }
}

async function releaseLock(lockPath: string, token: string): Promise<void> {
  let content: Partial<LockContent> | undefined;
  try {
    content = JSON.parse(readFileSync(lockPath, 'utf8')) as Partial<LockContent>;
  } catch {
    return; // gone (broken as stale) or unreadable: not ours to remove
  }
  if (content.token === token) rmSync(lockPath, { force: true });
}

/** Run `fn` while holding the lock at `lockPath`. */
export async function withLock<T>(lockPath: string, fn: () => Promise<T>, opts?: LockOptions): Promise<T> {
  const release = await acquireLock(lockPath, opts);
  try {
    return await fn();
  } finally {
    await release();
  }
}
