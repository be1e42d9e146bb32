import { createRequire } from 'node:module';
import { CacheError } from './errors.js';

/** A content address, always 'sha256:<64 lowercase hex>'. */
export type Digest = string & { readonly __brand: 'Digest' };

const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

export function isDigest(s: string): s is Digest {
  return DIGEST_RE.test(s);
}

/** Validates user/registry supplied text; throws a user error if malformed. */
export function toDigest(s: string): Digest {
  if (!isDigest(s)) {
    throw new CacheError('INVALID_DIGEST', `invalid digest ${JSON.stringify(s.length > 80 ? s.slice(0, 80) + '…' : s)} (expected sha256:<64 hex>)`);
  }
  return s;
}

export function digestOf(data: Buffer | string): Digest {
  return ('sha256:' + createHash('sha256').update(data).digest('hex')) as Digest;
}

// node:crypto on the first hash, not with this module: the digests' names
// and checks are read on the path that answers a no-op from the memo
// (cli/local-memo-entry.ts), which hashes nothing with it (~2.5 ms to load).
let crypto: typeof import('node:crypto') | undefined;
function createHash(algorithm: string): import('node:crypto').Hash {
  crypto ??= createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
  return crypto.createHash(algorithm);
}

export function hexOf(d: Digest): string {
  return d.slice('sha256:'.length);
}

/** Wraps a finished sha256 hash object's hex output as a Digest. */
export function digestFromHex(hex: string): Digest {
  return toDigest('sha256:' + hex);
}
