// SHA-256 and random bytes from the native addon (runner-native/native-crypto.ts,
// addon/sha256.c): the same digests as node:crypto's, in every form tsbuild
// hands them data and asks for them back.
import test from 'ava';
import { createHash as nodeCreateHash } from 'node:crypto';
import { createHash, randomBytes } from '../runner-native/native-crypto.js';
import { nativeAddon } from '../runner-native/native-addon.js';

test('the addon hashes here (else these tests would only compare node:crypto with itself)', (t) => {
  t.true(nativeAddon()?.sha256Available() ?? false);
});

const inputs: [string, (h: { update(d: never, e?: never): unknown }) => void][] = [
  ['nothing', () => undefined],
  ['a string, as UTF-8', (h) => h.update('héllo wörld' as never)],
  ['a string in latin1 and one in hex', (h) => { h.update('caf\xe9' as never, 'latin1' as never); h.update('00ff10' as never, 'hex' as never); }],
  ['a Buffer slice of a shared pool', (h) => h.update(Buffer.from('x'.repeat(100)).subarray(10, 60) as never)],
  ['a Uint16Array and a DataView', (h) => { h.update(new Uint16Array([1, 2, 0xffff]) as never); h.update(new DataView(new ArrayBuffer(7), 2, 3) as never); }],
  ['3 MB in pieces', (h) => { const big = Buffer.alloc(3 << 20, 7); for (let i = 0; i < big.length; i += 65_521) h.update(big.subarray(i, i + 65_521) as never); }],
];

for (const [what, feed] of inputs) {
  test(`the digest of ${what} is node:crypto's, as hex, base64, base64url and bytes`, (t) => {
    for (const encoding of ['hex', 'base64', 'base64url', undefined] as const) {
      const ours = createHash('sha256');
      const theirs = nodeCreateHash('sha256');
      feed(ours as never);
      feed(theirs as never);
      if (encoding) t.is(ours.digest(encoding), theirs.digest(encoding));
      else t.deepEqual(ours.digest(), theirs.digest());
    }
  });
}

test('a digested hash takes no more updates or digests, as node:crypto says', (t) => {
  const h = createHash('sha256').update('a');
  h.digest('hex');
  t.throws(() => h.update('b'), { code: 'ERR_CRYPTO_HASH_FINALIZED' });
  t.throws(() => h.digest('hex'), { code: 'ERR_CRYPTO_HASH_FINALIZED' });
});

test('random bytes: as many as asked, and not the same twice', (t) => {
  const a = randomBytes(16);
  const b = randomBytes(16);
  t.is(a.length, 16);
  t.is(randomBytes(0).length, 0);
  t.notDeepEqual(a, b);
  t.is(randomBytes(100_000).length, 100_000);
});
