// Bounded parallelism, one way for all of builder/: the solver's --jobs
// slots (shareable between builds, so a server bounds them all with one
// limit), the copier's files in flight, registry transfers and exporters.

/**
 * A counting semaphore: at most `size` holders at once, waiters served in
 * arrival order. The copier uses it to keep a bounded number of files in
 * flight, so the libuv threadpool always has work queued (one file at a time
 * leaves it idle between the awaits) without opening thousands of files at once.
 */
export class Limiter {
  private free: number;
  // A queue as an array plus a head index: shift() would be linear.
  private waiting: (() => void)[] = [];
  private head = 0;

  constructor(size: number) {
    this.free = Math.max(1, size);
  }

  /** Resolves once a slot is free, with the function that gives it back (safe to call twice). */
  async acquire(): Promise<() => void> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // The slot passes straight to the next waiter, so `free` never overshoots.
      const next = this.head < this.waiting.length ? this.waiting[this.head++] : undefined;
      if (this.head > 1024 && this.head * 2 > this.waiting.length) {
        this.waiting = this.waiting.slice(this.head);
        this.head = 0;
      }
      if (next) next();
      else this.free++;
    };
  }

  /** Runs fn once a slot is free and gives the slot back when it settles. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

/** Run `fn` over `items` with at most `limit` in flight; results keep the input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

/**
 * Runs tasks with bounded parallelism. The first failure keeps the tasks
 * that have not started from starting, waits for the running ones (so
 * nothing keeps writing after we return) and is the error reported.
 */
export async function runBounded<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  const limiter = new Limiter(concurrency);
  let failure: { error: unknown } | undefined;
  await Promise.all(items.map((item) => limiter.run(async () => {
    if (failure) return;
    try {
      await fn(item);
    } catch (error) {
      failure ??= { error };
    }
  })));
  if (failure) throw failure.error;
}
