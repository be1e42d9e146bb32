// Steps being run right now by any solve of this process on one store, by
// cache key. A server runs many builds at once on its store; when two of
// them need the same step at the same moment, the first to miss the cache
// runs it (it "owns" the key) and the others wait for it and then read its
// result from the cache, as a cache hit. Only the outcome travels through
// here, never the result: a waiter reads the result from the cache as any
// later build would, so it is exactly a cache hit.
//
// A failure is not shared: when the owner fails or is canceled (its client
// pressed Ctrl-C or went away), a waiter runs the step itself. A failed
// step is never cached, so a build that came a second later would run it
// again too; and each build shows its own step's output and error. Builds
// in other processes on the same store do not see each other here.
export class InFlightSteps {
  private readonly running = new Map<string, Promise<boolean>>();

  /**
   * The run of `key` in progress in another solve, if any: resolves true
   * once its result is in the cache, false when it failed or was canceled.
   */
  owner(key: string): Promise<boolean> | undefined {
    return this.running.get(key);
  }

  /**
   * Claims `key` for the caller, who must call the returned function exactly
   * once: with true after its result is in the cache, false when it failed.
   * Call it right after owner() returned undefined, with no await between.
   */
  claim(key: string): (ok: boolean) => void {
    let settle!: (ok: boolean) => void;
    const outcome = new Promise<boolean>((resolve) => (settle = resolve));
    this.running.set(key, outcome);
    return (ok) => {
      if (this.running.get(key) === outcome) this.running.delete(key);
      settle(ok);
    };
  }

  /** How many keys are being run right now (for tests and diagnostics). */
  get size(): number {
    return this.running.size;
  }
}

/** Resolves with the owner's outcome, or rejects with the signal's reason as soon as it fires. */
export function waitUnlessAborted(outcome: Promise<boolean>, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.reject(signal.reason ?? new Error('canceled'));
  return new Promise<boolean>((resolve, reject) => {
    const onAbort = () => reject(signal.reason ?? new Error('canceled'));
    signal.addEventListener('abort', onAbort, { once: true });
    void outcome.then((ok) => {
      signal.removeEventListener('abort', onAbort);
      resolve(ok);
    });
  });
}
