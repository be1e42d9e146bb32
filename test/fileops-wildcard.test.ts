import test from 'ava';
import { containsWildcards, goMatch, splitWildcards } from '../builder/fileops/wildcard.js';

// Cases follow Go's filepath.Match documentation and tests.
const cases: Array<[string, string, boolean]> = [
  ['abc', 'abc', true],
  ['*', 'abc', true],
  ['*c', 'abc', true],
  ['a*', 'a', true],
  ['a*/b', 'abc/b', true],
  ['a*/b', 'a/c/b', false],
  ['a*', 'ab/c', false],
  ['a?c', 'abc', true],
  ['a?c', 'a/c', false],
  ['[a-c]x', 'bx', true],
  ['[^a-c]x', 'dx', true],
  ['[^a-c]x', 'bx', false],
  ['a[/]b', 'a/b', false],
  ['[\\]a]', ']', true],
  ['[\\-]', '-', true],
  ['arr[[]0].txt', 'arr[0].txt', true],
  ['a\\*b', 'a*b', true],
  ['a\\*b', 'axb', false],
  ['[', 'a', false], // malformed: matches nothing
  ['a[', 'a', false],
  ['*.go', 'x.go', true],
  ['**', 'a/b', false], // no ** in source paths
];

for (const [pattern, name, expected] of cases) {
  test(`goMatch(${JSON.stringify(pattern)}, ${JSON.stringify(name)}) is ${expected}`, (t) => {
    t.is(goMatch(pattern, name), expected);
  });
}

test('containsWildcards and splitWildcards', (t) => {
  t.true(containsWildcards('/a/*.txt'));
  t.false(containsWildcards('/a/b'));
  t.false(containsWildcards('/a/\\*b'));
  t.deepEqual(splitWildcards('/a/b*/c'), ['/a', 'b*/c']);
  t.deepEqual(splitWildcards('/*.txt'), ['/', '*.txt']);
  t.deepEqual(splitWildcards('/a/b'), ['/a/b', '']);
});
