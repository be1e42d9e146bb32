// createGunzip with node:zlib loaded on its first use: the modules that
// can gunzip (a pulled layer, an ADDed archive) load with every build, and
// most builds gunzip nothing (loading zlib costs about 0.4 ms).
import { createRequire } from 'node:module';
import type { ZlibOptions, Gunzip } from 'node:zlib';

let zlib: typeof import('node:zlib') | undefined;

export function createGunzip(options?: ZlibOptions): Gunzip {
  zlib ??= createRequire(import.meta.url)('node:zlib') as typeof import('node:zlib');
  return zlib.createGunzip(options);
}
