// Bounds on a blob download that trickles: a registry (or a proxy) that
// sends a byte now and then never trips the socket's idle timeout, and a
// resumed transfer that brings one new byte is not progress. A transfer
// that receives less than `minBytesPerSec` averaged over `windowMs` is cut
// and resumed (Range); after `maxStalls` tries in a row that each brought
// less than one window's worth, the pull fails with a message saying so.
//   TSBUILD_PULL_MIN_RATE      bytes per second (default 1024)
//   TSBUILD_PULL_STALL_WINDOW  seconds (default 60)
//   TSBUILD_PULL_MAX_STALLS    tries without progress (default 3)

import { RegistryError, TransientError } from './errors.js';

export interface StallLimits {
  minBytesPerSec: number;
  windowMs: number;
  maxStalls: number;
}

export const DEFAULT_STALL_LIMITS: StallLimits = { minBytesPerSec: 1024, windowMs: 60_000, maxStalls: 3 };

function positive(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new RegistryError('REGISTRY_SETTINGS', `${name}: expected a positive number, got ${JSON.stringify(text)}`);
  return n;
}

export function stallLimitsFromEnv(env: NodeJS.ProcessEnv = process.env): StallLimits {
  return {
    minBytesPerSec: positive(env, 'TSBUILD_PULL_MIN_RATE', DEFAULT_STALL_LIMITS.minBytesPerSec),
    windowMs: positive(env, 'TSBUILD_PULL_STALL_WINDOW', DEFAULT_STALL_LIMITS.windowMs / 1000) * 1000,
    maxStalls: Math.floor(positive(env, 'TSBUILD_PULL_MAX_STALLS', DEFAULT_STALL_LIMITS.maxStalls)),
  };
}

function rate(bytesPerSec: number): string {
  return bytesPerSec >= 1024 ? `${(bytesPerSec / 1024).toFixed(bytesPerSec % 1024 === 0 ? 0 : 1)} KiB/s` : `${bytesPerSec} B/s`;
}

/** Watches one blob's tries; `what` names the blob in messages. */
export class StallWatch {
  private stalls = 0;

  constructor(private readonly limits: StallLimits, private readonly what: string) {}

  /** Bytes one window must bring for a try to count as progress. */
  get windowBytes(): number {
    return (this.limits.minBytesPerSec * this.limits.windowMs) / 1000;
  }

  /**
   * Guards one try's body: calls `abort` with a retryable error when a
   * window passes with too few bytes. Returns the function to call per
   * chunk and the one to stop the watch.
   */
  watchTry(abort: (err: Error) => void): { onBytes(n: number): void; stop(): void } {
    let inWindow = 0;
    const timer = setInterval(() => {
      if (inWindow < this.windowBytes) {
        abort(new TransientError(`${this.what}: less than ${rate(this.limits.minBytesPerSec)} for ${this.limits.windowMs / 1000}s`));
      }
      inWindow = 0;
    }, this.limits.windowMs);
    timer.unref();
    return { onBytes: (n) => { inWindow += n; }, stop: () => clearInterval(timer) };
  }

  /** After a failed try that brought `bytes`: throws the final error once too many tries in a row brought too little. */
  afterFailedTry(bytes: number, have: number, size: number, cause: unknown): void {
    this.stalls = bytes < this.windowBytes ? this.stalls + 1 : 0;
    if (this.stalls < this.limits.maxStalls) return;
    throw new RegistryError(
      'REGISTRY_STALLED',
      `${this.what} stalled: ${this.stalls} tries in a row brought less than ${rate(this.limits.minBytesPerSec)} over ${this.limits.windowMs / 1000}s (${have} of ${size} bytes; last: ${(cause as Error)?.message ?? cause}); set TSBUILD_PULL_MIN_RATE, TSBUILD_PULL_STALL_WINDOW or TSBUILD_PULL_MAX_STALLS to change the bounds`,
      { cause },
    );
  }
}
