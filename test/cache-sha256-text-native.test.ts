// Once a process hands node:crypto to sha256Hex (hashTextWith(), as a
// build does), the digests stay the same.
import test from 'ava';
import { createHash } from 'node:crypto';
import { hashTextWith, sha256Hex } from '../cache/sha256-text.js';

test('the same digests through node:crypto as in JavaScript', (t) => {
  const texts = ['', 'abc', '/ctx\0/ctx/Dockerfile', '日本語', 'x'.repeat(300)];
  const inJs = texts.map(sha256Hex);
  let calls = 0;
  hashTextWith(((alg: string) => { calls++; return createHash(alg); }) as typeof createHash);
  t.deepEqual(texts.map(sha256Hex), inJs);
  t.is(calls, texts.length);
});
