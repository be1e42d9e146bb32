// Run tasks with bounded parallelism (p-queue). The first failure drops
// the tasks that have not started, waits for the running ones (so nothing
// keeps writing after we return) and is the error reported.

import PQueue from 'p-queue';

export async function runBounded<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = new PQueue({ concurrency: Math.max(1, concurrency) });
  let failure: { error: unknown } | undefined;
  for (const item of items) {
    void queue.add(async () => {
      if (failure) return;
      try {
        await fn(item);
      } catch (error) {
        failure ??= { error };
        queue.clear();
      }
    });
  }
  await queue.onIdle();
  if (failure) throw failure.error;
}
