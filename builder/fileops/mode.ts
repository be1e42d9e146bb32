/**
 * `--chmod` values: octal (`755`, `0644`, up to 07777) or chmod(1) symbolic
 * notation (`+x`, `u=rwX,go=rX`, `g=u`), as BuildKit accepts since
 * Dockerfile 1.14. Symbolic modes are applied to each file's own mode with a
 * zero umask, so `+x` means `a+x`.
 */
import { InvalidChmodError } from './errors.js';

export type ModeSpec =
  | { readonly kind: 'octal'; readonly mode: number; readonly text: string }
  | { readonly kind: 'symbolic'; readonly clauses: readonly Clause[]; readonly text: string };

interface Action {
  readonly op: '+' | '-' | '=';
  /** Permission letters (rwxXst) or a copy source (u, g, o). */
  readonly perms: string;
}

interface Clause {
  readonly who: string;
  readonly actions: readonly Action[];
}

const OCTAL = /^[0-7]+$/;
const CLAUSE = /^([ugoa]*)((?:[-+=](?:[ugo]|[rwxXst]*))+)$/;

export function parseChmod(text: string): ModeSpec {
  if (OCTAL.test(text)) {
    const mode = parseInt(text, 8);
    if (mode > 0o7777) throw new InvalidChmodError(text);
    return { kind: 'octal', mode, text };
  }
  // Numeric-looking values are octal mistakes (e.g. "789"), not symbolic modes.
  if (/^\d+$/.test(text) || text === '') throw new InvalidChmodError(text);
  const clauses: Clause[] = [];
  for (const part of text.split(',')) {
    const m = CLAUSE.exec(part);
    if (!m) throw new InvalidChmodError(text);
    const actions: Action[] = [];
    for (const a of m[2]!.matchAll(/([-+=])([ugo]|[rwxXst]*)/g)) {
      actions.push({ op: a[1] as Action['op'], perms: a[2]! });
    }
    clauses.push({ who: m[1]!, actions });
  }
  return { kind: 'symbolic', clauses, text };
}

const WHO_BITS: Record<string, number> = { u: 0o4700, g: 0o2070, o: 0o1007 };

/** The new permission bits (0o7777 range) for an entry of mode `current`. */
export function applyMode(spec: ModeSpec, current: number, isDir: boolean): number {
  if (spec.kind === 'octal') return spec.mode;
  let mode = current & 0o7777;
  for (const clause of spec.clauses) {
    const who = clause.who === '' || clause.who.includes('a') ? 'ugo' : clause.who;
    let whoMask = 0;
    for (const w of who) whoMask |= WHO_BITS[w]!;
    for (const action of clause.actions) {
      const bits = permBits(action.perms, mode, isDir) & whoMask;
      if (action.op === '+') mode |= bits;
      else if (action.op === '-') mode &= ~bits;
      else mode = (mode & ~whoMask) | bits;
    }
  }
  return mode;
}

function permBits(perms: string, mode: number, isDir: boolean): number {
  // Copying another class's bits: g=u takes u's rwx and spreads it.
  if (perms === 'u') return ((mode >> 6) & 7) * 0o111;
  if (perms === 'g') return ((mode >> 3) & 7) * 0o111;
  if (perms === 'o') return (mode & 7) * 0o111;
  let bits = 0;
  for (const p of perms) {
    if (p === 'r') bits |= 0o444;
    else if (p === 'w') bits |= 0o222;
    else if (p === 'x') bits |= 0o111;
    else if (p === 'X') bits |= isDir || (mode & 0o111) !== 0 ? 0o111 : 0;
    else if (p === 's') bits |= 0o6000;
    else if (p === 't') bits |= 0o1000;
  }
  return bits;
}

/**
 * Mode of directories COPY creates on the way to the destination (the
 * destination directory itself and its missing parents): always 0755, as
 * BuildKit 0.13 / Docker 26 (fsutil's MkdirAll there ignores --chmod, which
 * only applies to what is copied). fsutil changed this in 2025 to use an
 * octal --chmod; the images docker 26 users compare against have 0755.
 */
export const CREATED_DIR_MODE = 0o755;
