// The JavaScript SHA-256 of the lean start gives node:crypto's digests:
// every length across the padding's block boundaries, multi-byte UTF-8,
// and random texts.
import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { sha256Hex } from '../cache/sha256-text.js';

const expected = (s: string) => createHash('sha256').update(s).digest('hex');

test('every length from 0 to 300 characters, and known vectors', (t) => {
  t.is(sha256Hex(''), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  t.is(sha256Hex('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  for (let n = 0; n <= 300; n++) {
    const s = 'x'.repeat(n);
    t.is(sha256Hex(s), expected(s), `length ${n}`);
  }
});

test('multi-byte UTF-8 and random texts', (t) => {
  for (const s of ['héllo\0wörld', '日本語のテキスト', '🐳'.repeat(40), `${'a'.repeat(55)}é`]) t.is(sha256Hex(s), expected(s), s);
  for (let i = 0; i < 500; i++) {
    const s = randomBytes(1 + (i % 700)).toString('latin1');
    t.is(sha256Hex(s), expected(s));
  }
});
