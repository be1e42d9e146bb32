// Who may touch the store while garbage is collected. A build (or anything
// that writes blobs and cache entries before they are referenced) holds a
// lease: `<root>/leases/<pid>-<random>.json`. Collecting garbage holds the
// exclusive `<root>/leases/gc.lock`, and only while no lease of a live
// process exists. Each side first writes its own flag and then looks for
// the other's, backing off when it sees it; so at least one of two racing
// processes sees the other, and a collector never deletes what a running
// build has read from the index but not yet used. Flags of dead processes
// (kill -9) are ignored and removed.
import { randomBytes } from '../runner-native/native-crypto.js';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { processAlive } from './process-alive.js';

export interface LeaseInfo {
  pid: number;
  startedAt: number;
  purpose: string;
}

export interface Lease {
  readonly file: string;
  release(): Promise<void>;
}

export function leasesDir(storeRoot: string): string {
  return path.join(storeRoot, 'leases');
}

function gcLockPath(storeRoot: string): string {
  return path.join(leasesDir(storeRoot), 'gc.lock');
}


/**
 * Takes a lease on the store; waits while a collector runs (it is short).
 * Its flag is made and the collector's looked for synchronously: each is a
 * syscall or three on a small file, where the threadpool's round trips cost
 * every build (and the memo's second solve after it) about a millisecond.
 */
export async function acquireLease(storeRoot: string, purpose: string, opts: { timeoutMs?: number } = {}): Promise<Lease> {
  const dir = leasesDir(storeRoot);
  mkdirSync(dir, { recursive: true });
  const deadline = Date.now() + (opts.timeoutMs ?? 10 * 60_000);
  for (;;) {
    const file = path.join(dir, `${process.pid}-${randomBytes(4).toString('hex')}.json`);
    const info: LeaseInfo = { pid: process.pid, startedAt: Date.now(), purpose };
    writeExclusive(file, JSON.stringify(info));
    if (!collectorRunning(storeRoot)) return { file, release: async () => rmSync(file, { force: true }) };
    await rm(file, { force: true });
    if (Date.now() > deadline) throw new Error('timed out waiting for garbage collection of the store to finish');
    await sleep(50 + Math.random() * 100);
  }
}

/** Leases of live processes (this one's included); removes those of dead ones. */
export async function liveLeases(storeRoot: string): Promise<LeaseInfo[]> {
  const dir = leasesDir(storeRoot);
  const out: LeaseInfo[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.endsWith('.json')) continue;
    const file = path.join(dir, name);
    const info = await readFile(file, 'utf8').then((t) => JSON.parse(t) as LeaseInfo).catch(() => undefined);
    // Unreadable: being written this instant; count it as live by its name's pid.
    const pid = info?.pid ?? Number(name.split('-')[0]);
    if (!Number.isInteger(pid) || !processAlive(pid)) {
      await rm(file, { force: true });
      continue;
    }
    out.push(info ?? { pid, startedAt: 0, purpose: 'unknown' });
  }
  return out;
}

export class StoreBusyError extends Error {
  readonly userError = true;
  readonly code = 'STORE_BUSY';
  constructor(readonly holders: LeaseInfo[]) {
    super(`the store is in use by ${holders.map((h) => `${h.purpose} (pid ${h.pid})`).join(', ')}; try again when it has finished`);
  }
}

export interface CollectorOptions {
  // How long to wait for running builds; 0: give up at once (after-build GC).
  waitMs?: number;
  onWait?: (holders: LeaseInfo[]) => void;
}

/**
 * Runs `fn` as the only collector, with no live lease at all. Our own
 * process's leases count too: a server runs many builds in one process, and
 * one that finished and enforces the size limit (its own lease released
 * first) must not collect what another still uses. Throws StoreBusyError
 * when builds are still running after `waitMs`.
 */
export async function withCollectorLock<T>(storeRoot: string, fn: () => Promise<T>, opts: CollectorOptions = {}): Promise<T> {
  const lock = gcLockPath(storeRoot);
  await mkdir(leasesDir(storeRoot), { recursive: true });
  const deadline = Date.now() + (opts.waitMs ?? 0);
  let told = false;
  for (;;) {
    if (await tryLock(lock)) {
      const holders = await liveLeases(storeRoot);
      if (holders.length === 0) {
        try {
          return await fn();
        } finally {
          await rm(lock, { force: true });
        }
      }
      await rm(lock, { force: true });
      if (Date.now() >= deadline) throw new StoreBusyError(holders);
      if (!told) opts.onWait?.(holders);
      told = true;
    } else if (Date.now() >= deadline) {
      throw new StoreBusyError([{ pid: lockOwner(lock) ?? 0, startedAt: 0, purpose: 'another prune' }]);
    }
    await sleep(200 + Math.random() * 200);
  }
}

function collectorRunning(storeRoot: string): boolean {
  const pid = lockOwner(gcLockPath(storeRoot));
  return pid !== undefined && processAlive(pid);
}

function lockOwner(lock: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(lock, 'utf8');
  } catch {
    return undefined;
  }
  const pid = Number(text.trim());
  // Empty: created but not yet written; treat as held by someone alive.
  return Number.isInteger(pid) && pid > 0 ? pid : process.pid;
}

async function tryLock(lock: string): Promise<boolean> {
  try {
    writeExclusive(lock, String(process.pid));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const pid = lockOwner(lock);
    if (pid !== undefined && pid !== process.pid && !processAlive(pid)) {
      // The collector was killed: its lock is stale.
      await rm(lock, { force: true });
    }
    return false;
  }
}

function writeExclusive(file: string, text: string): void {
  writeFileSync(file, text, { flag: 'wx' });
}
