/**
 * Source wildcards of COPY/ADD: Go's filepath.Match rules (no `**`), applied
 * the way fsutil's ResolveWildcards does: the path is split at the first
 * component holding a wildcard, the part before it is resolved (following
 * symlinks), and the tree below is walked matching the rest against each
 * relative path. A matched directory is not descended into.
 */
import type { SourceTree } from './source-tree.js';

/** Does this path contain `*`, `?` or `[` that is not escaped by `\`? */
export function containsWildcards(p: string): boolean {
  for (let i = 0; i < p.length; i++) {
    const ch = p[i];
    if (ch === '\\') i++;
    else if (ch === '*' || ch === '?' || ch === '[') return true;
  }
  return false;
}

/** Split "/a/b*\/c" into ["/a", "b*\/c"]: before and from the first wildcard component. */
export function splitWildcards(p: string): [string, string] {
  const parts = p.split('/').filter((c) => c !== '');
  const idx = parts.findIndex(containsWildcards);
  if (idx < 0) return [`/${parts.join('/')}`, ''];
  return [`/${parts.slice(0, idx).join('/')}`, parts.slice(idx).join('/')];
}

const regexCache = new Map<string, RegExp | null>();

/** Go filepath.Match: whole-string match; a malformed pattern matches nothing. */
export function goMatch(pattern: string, name: string): boolean {
  let re = regexCache.get(pattern);
  if (re === undefined) {
    re = compileGoPattern(pattern);
    regexCache.set(pattern, re);
  }
  return re !== null && re.test(name);
}

/** Escape for a `u`-flag RegExp, where only syntax characters may be escaped. */
function escapeChar(ch: string, inClass = false): string {
  if (inClass && ch === '-') return '\\-';
  return /[\\^$.*+?()[\]{}|/]/.test(ch) ? `\\${ch}` : ch;
}

function compileGoPattern(pattern: string): RegExp | null {
  let re = '^';
  const chars = Array.from(pattern);
  let i = 0;
  while (i < chars.length) {
    const ch = chars[i]!;
    if (ch === '*') {
      re += '[^/]*';
      i++;
    } else if (ch === '?') {
      re += '[^/]';
      i++;
    } else if (ch === '\\') {
      if (i + 1 >= chars.length) return null;
      re += escapeChar(chars[i + 1]!);
      i += 2;
    } else if (ch === '[') {
      const cls = compileClass(chars, i + 1);
      if (!cls) return null;
      re += cls.re;
      i = cls.next;
    } else {
      re += escapeChar(ch);
      i++;
    }
  }
  try {
    return new RegExp(`${re}$`, 'su');
  } catch {
    return null;
  }
}

/** `[^a-z\]]`: Go's character class; never matches `/`. */
function compileClass(chars: string[], start: number): { re: string; next: number } | null {
  let i = start;
  let negate = false;
  if (chars[i] === '^') {
    negate = true;
    i++;
  }
  const ranges: string[] = [];
  let first = true;
  for (;;) {
    if (i >= chars.length) return null;
    if (chars[i] === ']' && !first) break;
    first = false;
    const lo = readClassChar(chars, i);
    if (!lo) return null;
    i = lo.next;
    if (chars[i] === '-' && chars[i + 1] !== undefined && chars[i + 1] !== ']') {
      const hi = readClassChar(chars, i + 1);
      if (!hi) return null;
      if (hi.ch < lo.ch) return null;
      ranges.push(`${escapeChar(lo.ch, true)}-${escapeChar(hi.ch, true)}`);
      i = hi.next;
    } else {
      ranges.push(escapeChar(lo.ch, true));
    }
  }
  const body = ranges.join('');
  return { re: negate ? `(?!/)[^${body}]` : `(?!/)[${body}]`, next: i + 1 };
}

function readClassChar(chars: string[], i: number): { ch: string; next: number } | null {
  const ch = chars[i];
  if (ch === undefined) return null;
  if (ch === '\\') {
    const esc = chars[i + 1];
    return esc === undefined ? null : { ch: esc, next: i + 2 };
  }
  return { ch, next: i + 1 };
}

/**
 * Expand a (normalised, absolute in-root) source path with wildcards into the
 * matching in-root paths, in walk order. Without wildcards: the path itself.
 */
export async function resolveWildcards(tree: SourceTree, src: string): Promise<string[]> {
  const [base, rest] = splitWildcards(src);
  if (rest === '') return [base];
  const resolvedBase = await tree.resolve(base, true);
  if (!resolvedBase.exists) return [];
  const baseStat = await tree.lstat(resolvedBase.inRoot);
  if (!baseStat?.isDirectory()) return [];
  const depth = rest.split('/').length;
  const out: string[] = [];
  const walk = async (dirInRoot: string, rel: string, level: number): Promise<void> => {
    for (const name of await tree.readdir(dirInRoot)) {
      const childRel = rel ? `${rel}/${name}` : name;
      const childInRoot = dirInRoot === '/' ? `/${name}` : `${dirInRoot}/${name}`;
      if (goMatch(rest, childRel)) {
        out.push(base === '/' ? `/${childRel}` : `${base}/${childRel}`);
        continue;
      }
      // `*` never matches `/`, so only paths with as many components can match.
      if (level < depth) {
        const st = await tree.lstat(childInRoot);
        if (st?.isDirectory()) await walk(childInRoot, childRel, level + 1);
      }
    }
  };
  await walk(resolvedBase.inRoot, '', 1);
  return out;
}
