// The in-process memos' LRU (cache/lru-map.ts): bounded, and what goes is
// the entry least recently read or written.
import test from 'ava';
import { LruMap } from '../cache/lru-map.js';

test('keeps at most max entries, forgetting the least recently used first', (t) => {
  const m = new LruMap<string, number>(3);
  m.set('a', 1).set('b', 2).set('c', 3);
  t.is(m.get('a'), 1); // a is now the most recent: b is the oldest
  m.set('d', 4);
  t.is(m.size, 3);
  t.is(m.get('b'), undefined);
  t.deepEqual([m.get('a'), m.get('c'), m.get('d')], [1, 3, 4]);
  m.set('c', 30); // an update counts as a use
  m.set('e', 5);
  t.is(m.get('a'), undefined);
  t.deepEqual([m.get('c'), m.get('d'), m.get('e')], [30, 4, 5]);
});

test('delete removes an entry; a missing key reads undefined and changes nothing', (t) => {
  const m = new LruMap<string, string>(2);
  m.set('x', 'X').set('y', 'Y');
  t.true(m.delete('x'));
  t.false(m.delete('x'));
  t.is(m.get('nope'), undefined);
  m.set('z', 'Z');
  t.deepEqual([m.get('y'), m.get('z'), m.size], ['Y', 'Z', 2]);
});
