import { CacheError } from './errors.js';
import { createHash } from '../runner-native/native-crypto.js';

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

export function hexOf(d: Digest): string {
  return d.slice('sha256:'.length);
}

/** Wraps a finished sha256 hash object's hex output as a Digest. */
export function digestFromHex(hex: string): Digest {
  return toDigest('sha256:' + hex);
}
