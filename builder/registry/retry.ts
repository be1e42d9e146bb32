// Retries with exponential backoff for the failures a registry or the
// network between us produces now and then: 5xx, 429 (honouring
// Retry-After, capped), and connections dropped before or during a body.
// Anything else (401, 404, a bad digest) is an answer, not an accident,
// and fails at once.

import { setTimeout as sleep } from 'node:timers/promises';
import { TransientError } from './errors.js';

export interface RetryOptions {
  /** Total tries including the first; default 6. */
  attempts?: number;
  /** First delay; doubled each time (with jitter); default 200 ms. */
  baseDelayMs?: number;
  /** Upper bound of one delay; default 10 s. */
  maxDelayMs?: number;
  /** Called before each retry, for progress output and tests. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

// Errors of a connection that broke after it was made (or a peer that went
// away mid-handshake): the next try may well succeed. ECONNREFUSED is not
// here: nothing listens, and retrying only delays the one-line error.
const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ECONNABORTED',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
]);

export function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

export function isTransient(err: unknown): boolean {
  if (err instanceof TransientError) return true;
  const code = errorCode(err);
  if (code !== undefined && TRANSIENT_CODES.has(code)) return true;
  const message = (err as Error | undefined)?.message ?? '';
  // Node's http client reports these without a code.
  return /socket hang up|aborted|premature close/i.test(message);
}

export async function withRetry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const attempts = opts.attempts ?? 6;
  const base = opts.baseDelayMs ?? 200;
  const max = opts.maxDelayMs ?? 10_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= attempts || !isTransient(err)) throw err;
      const backoff = Math.min(max, base * 2 ** (attempt - 1));
      // Full jitter halves the herd when many layers fail at once.
      let delay = backoff / 2 + Math.random() * (backoff / 2);
      if (err instanceof TransientError && err.retryAfterMs !== undefined) delay = Math.min(max, Math.max(delay, err.retryAfterMs));
      opts.onRetry?.(err, attempt, delay);
      await sleep(delay);
    }
  }
}

/** `Retry-After` as milliseconds: either seconds or an HTTP date. */
export function parseRetryAfter(value: string | undefined): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
