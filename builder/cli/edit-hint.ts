// The edit hint: after a local build that may be memoized, the launcher
// (bin/tsbuild.js editHint()) is left the lstats, as the build ended, of the
// context files the build read. The next launch of the same command in the
// same directory that finds one of them changed knows the memo cannot
// answer (the context snapshot's check, remote/context-snapshot.ts, would
// find the same change) and starts the full CLI at once, without the lean
// bundle's load and lookup (~6 ms of bench project c's one-file rebuild).
// Only ever a reason to skip the lookup: rows that all match send the build
// to it, which decides; so stats taken after the build read the files (an
// edit meanwhile is missed here) cost a lookup, never a wrong answer.
//
// The launcher names the file (its own hash of the directory and the
// arguments, which the file repeats as its key) through a registered
// symbol: the CLI run without the launcher (tests, a server) writes none.
import { lstatSync, rmSync } from 'node:fs';
import type { ContextWalkEntry } from '../context/context.js';
import { writeTextAtomicallySync } from '../../cache/write-atomic.js';

const HOOK = Symbol.for('tsbuild.editHint');

/**
 * More files than this are left to the lookup: the launcher lstats each
 * row before anything else runs (~3 µs each), and a context this big is
 * checked by the native check in another process (context-check.ts).
 */
export const EDIT_HINT_MAX_ROWS = 500;

export interface EditHint {
  /** The build's walks of the context (BuildIO.onContextWalk). */
  onContextWalk(entries: readonly ContextWalkEntry[]): void;
  /** After the build succeeded: the rows for the next launch (none when there are too many). */
  save(): void;
}

/** The hint the launcher asked for, or undefined when it asked for none. */
export function editHint(contextRoot: string): EditHint | undefined {
  const hook = (globalThis as { [HOOK]?: { file: string; key: string } })[HOOK];
  if (!hook) return undefined;
  const prefix = contextRoot === '/' ? '' : contextRoot;
  const files = new Set<string>();
  return {
    onContextWalk: (entries) => {
      if (files.size > EDIT_HINT_MAX_ROWS) return;
      for (const e of entries) if (e.type === 'file') files.add(prefix + e.inRoot);
    },
    save: () => {
      try {
        if (files.size === 0 || files.size > EDIT_HINT_MAX_ROWS) {
          rmSync(hook.file, { force: true });
          return;
        }
        const rows: [string, number, number, number, number][] = [];
        for (const file of files) {
          const st = lstatSync(file, { throwIfNoEntry: false });
          if (st) rows.push([file, st.ino, st.size, st.mtimeMs, st.ctimeMs]);
        }
        writeTextAtomicallySync(hook.file, JSON.stringify({ key: hook.key, rows }));
      } catch {
        // only a hint: the next build asks the memo
      }
    },
  };
}
