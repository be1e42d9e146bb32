// V8's flags, set by a running process: node:v8 loaded only when a flag is
// set (loading it costs a command about 1 ms, which most never need).
// Whatever sets a flag for a while sets it back: the launcher saves its
// code cache under the process's flags, and V8 accepts a cache only from a
// process with the same ones.
import { createRequire } from 'node:module';

let v8: typeof import('node:v8') | undefined;

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
