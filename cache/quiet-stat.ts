// lstat/stat for paths that may vanish or turn unreadable meanwhile (a
// concurrent removal, ENOTDIR under a path that changed type): undefined
// instead of a throw, so one check reads as one call. Synchronous: each is
// a few µs of kernel work, cheaper than a threadpool round trip.
import { lstatSync, statSync, type Stats } from 'node:fs';

export function lstatQuiet(p: string): Stats | undefined {
  try {
    return lstatSync(p, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

export function statQuiet(p: string): Stats | undefined {
  try {
    return statSync(p, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}
