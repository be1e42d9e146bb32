// The Node-API addon (runner-native/addon/, built by `npm run build` beside
// the sandbox helper): what Node's API cannot do cheaply. Undefined where
// it was not built (no C compiler): callers then do it Node's way.
import { join } from 'node:path';
import { packageRoot } from './package-root.js';

export interface NativeAddon {
  /** [pid, our end of each of its fds 0..sockets-1]; throws an Error whose `code` is the errno's name. */
  spawn(argv: readonly string[], sockets: number): number[];
  /** undefined while it runs; [exit code, 0] or [-1, signal number] once it ended; [-1, 0] if not our child. */
  reap(pid: number): [number, number] | undefined;
  /** Whether this Node exports the OpenSSL digest functions sha256New() needs. */
  sha256Available(): boolean;
  /** A SHA-256 in progress (an opaque handle). */
  sha256New(): object;
  sha256Update(hash: object, bytes: Uint8Array): void;
  /** Its 32 bytes; the hash takes no update after it. */
  sha256Digest(hash: object): Buffer;
  /** Fills the bytes from getrandom(2). */
  randomFill(bytes: Uint8Array): void;
}

let loaded: NativeAddon | null | undefined;

export function nativeAddon(): NativeAddon | undefined {
  if (loaded === undefined) {
    try {
      const module = { exports: {} as NativeAddon };
      process.dlopen(module, join(packageRoot(), 'runner-native', 'build', 'tsbuild-addon.node'));
      loaded = module.exports;
    } catch {
      loaded = null;
    }
  }
  return loaded ?? undefined;
}
