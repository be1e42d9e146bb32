// The digest of a context manifest, computed the same way by the client
// (which sends it instead of the manifest when nothing changed) and by the
// server (which recomputes it from every manifest it receives, so a client
// can never file a list under another list's digest). One line per entry,
// in manifest order: its fields separated by NUL, which neither a path nor
// a link target can hold; numbers as JavaScript prints them.
import { createHash } from '../../runner-native/native-crypto.js';
import type { ManifestEntry } from './protocol.js';

const SCHEMA = 'tsbuild-context-manifest-v1';
const LINES_AT_ONCE = 4096;

/** Do two entries of one path describe the same thing (every field the digest covers)? */
export function sameEntry(a: ManifestEntry, b: ManifestEntry): boolean {
  return a.type === b.type && a.mode === b.mode && a.mtimeMs === b.mtimeMs && a.size === b.size && a.digest === b.digest && a.link === b.link;
}

export function manifestDigest(entries: Iterable<ManifestEntry>): string {
  return digestOfLines(entries, manifestLine);
}

/** An entry's line in the digest. */
export function manifestLine(e: ManifestEntry): string {
  return `${e.path}\0${e.type}\0${e.mode}\0${e.mtimeMs}\0${e.size ?? ''}\0${e.digest ?? ''}\0${e.link ?? ''}`;
}

/** manifestDigest() of what `line` makes of each item the manifest's line of its entry (without making the entries). */
export function digestOfLines<T>(items: Iterable<T>, line: (item: T) => string): string {
  const hash = createHash('sha256').update(`${SCHEMA}\n`);
  // The lines joined a few thousand at a time: thousands of small updates
  // cost more than the hashing, and all of a big context's lines at once
  // cost megabytes.
  let lines: string[] = [];
  for (const item of items) {
    lines.push(line(item));
    if (lines.length === LINES_AT_ONCE) {
      hash.update(lines.join('\n') + '\n');
      lines = [];
    }
  }
  if (lines.length > 0) hash.update(lines.join('\n') + '\n');
  return `sha256:${hash.digest('hex')}`;
}
