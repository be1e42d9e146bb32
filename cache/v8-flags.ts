// V8's flags, set by a running process: node:v8 loaded only when a flag is
// set (loading it costs a command about 1 ms, which most never need).
// Whatever sets a flag sets it back: the launcher saves its code cache under
// the process's flags, and V8 accepts a cache only from a process with the
// same ones (a cache written under --expose-gc or --heap-growing-percent=50
// is rejected by a run with V8's defaults, which then compiles everything
// again and writes the cache anew). A flag held for the rest of the
// process (setUntilExit()) is set back by the launcher, through
// restoreHeldFlags(), before it writes a cache. Node warns that a flag
// changed while V8 runs may crash it: only big builds change any (heap
// limits, no optimizing compiler for a big context's manifest). The memo
// recording's incremental marking off, set in every recording, was dropped
// after V8 died in concurrent marking at the end of one.
import { createRequire } from 'node:module';

let v8: typeof import('node:v8') | undefined;
/** What sets each flag held until exit back, by flag. */
const held = new Map<string, string>();
/** Where the launcher (bin/tsbuild.js, outside the bundle) finds restoreHeldFlags(). */
const RESTORE_HOOK = Symbol.for('tsbuild.restoreV8Flags');

/** node:v8, loaded on first use. */
export function nodeV8(): typeof import('node:v8') {
  v8 ??= createRequire(import.meta.url)('node:v8') as typeof import('node:v8');
  return v8;
}

/** `f` with V8 flag `flag` set, `restore` set once it settled. */
export async function withV8Flag<T>(flag: string, restore: string, f: () => Promise<T>): Promise<T> {
  const { setFlagsFromString } = nodeV8();
  setFlagsFromString(flag);
  try {
    return await f();
  } finally {
    setFlagsFromString(restore);
  }
}

/**
 * Sets `flag` for the rest of this process (a big build's heap limits).
 * `restore` is set again by restoreHeldFlags(), which the launcher calls
 * before it writes a code cache.
 */
export function setUntilExit(flag: string, restore: string): void {
  nodeV8().setFlagsFromString(flag);
  held.set(flag, restore);
  (globalThis as Record<symbol, unknown>)[RESTORE_HOOK] = restoreHeldFlags;
}

/** Sets every flag held by setUntilExit() back. */
export function restoreHeldFlags(): void {
  for (const restore of held.values()) nodeV8().setFlagsFromString(restore);
  held.clear();
}
