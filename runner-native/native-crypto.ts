// createHash('sha256') and randomBytes() as node:crypto makes them, from
// the native addon where it is built (runner-native/addon/sha256.c, with
// Node's own OpenSSL): node:crypto loads ~46 internal modules on its first
// use, ~2 ms of a one-file rebuild that hashes a few small files. Without
// the addon (no C compiler at install, or a Node that exports no OpenSSL)
// node:crypto does it, loaded on first use. The same digests either way
// (a test compares them).
import type { BinaryLike, BinaryToTextEncoding } from 'node:crypto';
import { createRequire } from 'node:module';
import { nativeAddon, type NativeAddon } from './native-addon.js';

/** What tsbuild does with a hash: updates, then one digest. */
export interface Sha256 {
  update(data: BinaryLike, encoding?: BufferEncoding): Sha256;
  digest(): Buffer;
  digest(encoding: BinaryToTextEncoding): string;
}

let nodeCrypto: typeof import('node:crypto') | undefined;
function loadNodeCrypto(): typeof import('node:crypto') {
  return (nodeCrypto ??= createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto'));
}

let hashing: NativeAddon | null | undefined;
function hashingAddon(): NativeAddon | undefined {
  if (hashing === undefined) {
    const addon = nativeAddon();
    hashing = addon?.sha256Available() ? addon : null;
  }
  return hashing ?? undefined;
}

export function createHash(algorithm: 'sha256'): Sha256 {
  const addon = hashingAddon();
  return addon ? new NativeSha256(addon) : loadNodeCrypto().createHash(algorithm);
}

export function randomBytes(size: number): Buffer {
  const addon = nativeAddon();
  if (!addon) return loadNodeCrypto().randomBytes(size);
  const bytes = Buffer.allocUnsafe(size);
  addon.randomFill(bytes);
  return bytes;
}

class NativeSha256 implements Sha256 {
  private readonly handle: object;

  constructor(private readonly addon: NativeAddon) {
    this.handle = addon.sha256New();
  }

  update(data: BinaryLike, encoding?: BufferEncoding): Sha256 {
    this.addon.sha256Update(this.handle, bytesOf(data, encoding));
    return this;
  }

  digest(): Buffer;
  digest(encoding: BinaryToTextEncoding): string;
  digest(encoding?: BinaryToTextEncoding): Buffer | string {
    const d = this.addon.sha256Digest(this.handle);
    return encoding === undefined ? d : d.toString(encoding);
  }
}

function bytesOf(data: BinaryLike, encoding: BufferEncoding | undefined): Uint8Array {
  if (typeof data === 'string') return Buffer.from(data, encoding ?? 'utf8');
  if (data instanceof Uint8Array) return data;
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
