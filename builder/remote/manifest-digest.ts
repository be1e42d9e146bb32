// The digest of a context manifest, computed the same way by the client
// (which sends it instead of the manifest when nothing changed) and by the
// server (which recomputes it from every manifest it receives, so a client
// can never file a list under another list's digest). One line per entry,
// in manifest order: its fields separated by NUL, which neither a path nor
// a link target can hold; numbers as JavaScript prints them.
import { createHash } from 'node:crypto';
import type { ManifestEntry } from './protocol.js';

const SCHEMA = 'tsbuild-context-manifest-v1';

/** Do two entries of one path describe the same thing (every field the digest covers)? */
export function sameEntry(a: ManifestEntry, b: ManifestEntry): boolean {
  return a.type === b.type && a.mode === b.mode && a.mtimeMs === b.mtimeMs && a.size === b.size && a.digest === b.digest && a.link === b.link;
}

export function manifestDigest(entries: readonly ManifestEntry[]): string {
  const lines: string[] = [SCHEMA];
  for (const e of entries) lines.push(`${e.path}\0${e.type}\0${e.mode}\0${e.mtimeMs}\0${e.size ?? ''}\0${e.digest ?? ''}\0${e.link ?? ''}`);
  // One update of the joined text: thousands of small updates cost more than the hashing.
  return `sha256:${createHash('sha256').update(lines.join('\n') + '\n').digest('hex')}`;
}
