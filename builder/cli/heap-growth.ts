// The CLI's hold on V8's heap during a build (build-runner.ts) and the
// recording of its answer (local-memo-record.ts).
import { runInNewContext } from 'node:vm';
import { setUntilExit } from '../../cache/v8-flags.js';

// How far V8 lets the heap grow past what survived its last full
// collection: up to 4x by default, which made a 1 GB, 50,000-file COPY peak
// at 380-440 MB of RSS for a live set of about 70 MB. At 1.5x it peaks
// near 250 MB, but collecting that often costs small builds CPU (the
// collector's share of a cold build's profile went from 5% to 8%). So a
// build keeps V8's default until its heap is big, then caps the growth and
// collects once, as the limit V8 set at its last collection would
// otherwise still let the heap reach 4x.
const BIG_HEAP = 80 << 20;
const HEAP_GROWING_PERCENT = 50;

// The heap's size is read from process.memoryUsage(), and node:v8 (nodeV8())
// is loaded only to act on a big one: loading it costs every build about 1 ms.

export function capHeapGrowthWhenBig(): () => void {
  const timer = setInterval(() => {
    if (process.memoryUsage().heapUsed < BIG_HEAP) return;
    clearInterval(timer);
    setUntilExit(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`, '--heap-growing-percent=0');
    collectWhenBig();
  }, 100);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * A full collection, when the heap is big: also between the memo's second
 * solve of a big build and its snapshot of the context, which on top of
 * that solve's garbage raised a 50,000-file build's peak by ~40 MB.
 */
export function collectWhenBig(): void {
  if (process.memoryUsage().heapUsed < BIG_HEAP) return;
  setUntilExit('--expose-gc', '--no-expose-gc');
  // A fresh context gets the gc() the flag exposes; this one keeps none.
  (runInNewContext('gc') as () => void)();
}
