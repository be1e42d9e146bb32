// PatternMatcher compares literal patterns instead of running their
// regexps: the same answers as the regexp rule (the pattern matches the
// path or one of its parent directories) for every pattern and path here.
import test from 'ava';
import { compilePattern } from '../builder/patterns/pattern.js';
import { PatternMatcher } from '../builder/patterns/pattern-matcher.js';

// The rule as the regexps alone decide it (moby patternmatcher's).
function byRegexps(patterns: readonly string[], relPath: string): boolean {
  const parts = relPath.split('/');
  const parents = parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join('/'));
  let matched = false;
  for (const p of patterns.filter((x) => x.trim() !== '').map(compilePattern)) {
    if (p.exclusion !== matched) continue;
    if (p.regexp.test(relPath) || parents.some((d) => p.regexp.test(d))) matched = !p.exclusion;
  }
  return matched;
}

const PATHS = ['a', 'a/b', 'a/b/c', 'ab', 'ab/c', 'a.b', 'a.b/c', '.git', '.git/config', 'x/.git', 'node_modules', 'node_modules/x/y',
  'src/node_modules', '.bench-edit', 'b', 'a/bc', 'a/b.c', 'dir/file.txt', 'dir', 'dir2/file.txt', 'é/ü', '.', '..a', 'a+b', 'a(b)'];

const PATTERN_SETS: string[][] = [
  ['a'], ['a/b'], ['/a/b/'], ['./a'], ['.git'], ['node_modules', '!node_modules/x'], ['a', '!a/b', 'a/b/c'], ['*.txt'], ['dir', '!dir/file.txt'],
  ['a.b'], ['a+b', 'a(b)'], ['é'], ['**/node_modules'], ['a/*'], ['.'], ['/'], ['.bench-edit'], ['a', '!a'], ['!a', 'a'], ['a\\b'], ['[ab]'],
];

test('literal patterns match exactly as their regexps do', (t) => {
  for (const patterns of PATTERN_SETS) {
    const m = new PatternMatcher(patterns);
    for (const p of PATHS) t.is(m.matches(p), byRegexps(patterns, p), `${JSON.stringify(patterns)} ${p}`);
  }
});
