// node:path's join(), resolve() and dirname() for the CLI bundles, whose
// node:path shim (scripts/bundle-cli.js) gives their modules these instead:
// the same results, but a path that needs no normalizing (no `//`, no `.`
// or `..` segment: nearly every path the builder makes, a store dir and hex
// names) is returned as joined, and a plain path's directory is found with
// one search. Node normalizes every joined path one character at a time,
// through its primordials: ~9 µs a call in a process too short-lived for
// that loop to be optimized, and a one-file rebuild joins ~430 paths (~3 ms
// of its main thread). Anything else, a non-string argument included
// (node:path throws its own error), goes to node:path.
import { posix } from 'node:path';

/** A `//`, or a `.` or `..` segment: what normalizing would change. */
const NEEDS_NORMALIZING = /\/\/|(?:^|\/)\.\.?(?:\/|$)/;

/** path.join(): the non-empty arguments joined with `/`, normalized when that changes them. */
export function join(...parts: string[]): string {
  let joined = '';
  for (const part of parts) {
    if (typeof part !== 'string') return posix.join(...parts);
    if (part !== '') joined = joined === '' ? part : `${joined}/${part}`;
  }
  if (joined === '') return '.';
  return NEEDS_NORMALIZING.test(joined) ? posix.join(...parts) : joined;
}

/**
 * path.resolve(): the arguments from the last absolute one on (the working
 * directory first when none is), joined; as node:path's, without a
 * trailing `/` except for the root itself.
 */
export function resolve(...parts: string[]): string {
  let joined = '';
  for (let i = parts.length - 1; i >= 0; i--) {
    const part = parts[i];
    if (typeof part !== 'string') return posix.resolve(...parts);
    if (part === '') continue;
    joined = joined === '' ? part : `${part}/${joined}`;
    if (part.startsWith('/')) break;
  }
  if (!joined.startsWith('/')) joined = joined === '' ? process.cwd() : `${process.cwd()}/${joined}`;
  if (NEEDS_NORMALIZING.test(joined) || (joined.endsWith('/') && joined !== '/')) return posix.resolve(...parts);
  return joined;
}

/** path.dirname(): up to the last `/` of a path with no `//` and no trailing `/`. */
export function dirname(p: string): string {
  if (typeof p !== 'string' || p.length < 2 || p.endsWith('/') || p.includes('//')) return posix.dirname(p);
  const slash = p.lastIndexOf('/');
  return slash === -1 ? '.' : slash === 0 ? '/' : p.slice(0, slash);
}
