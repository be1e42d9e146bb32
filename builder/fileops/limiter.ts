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
}
