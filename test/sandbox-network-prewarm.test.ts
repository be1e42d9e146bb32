// RUN's default network namespace can be made ahead of the RUN (the step
// runner asks for it when a COPY starts): the next lease gets that one,
// and no second namespace is made.
import { readdirSync, readFileSync } from 'node:fs';
import { needsRoot, runIf, toolMissing } from './helpers/skip.js';

/** Our children that hold a network namespace (`tsbuild-sandbox netns`). */
function netnsHolders(): number[] {
  const pids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const ppid = Number(readFileSync(`/proc/${e}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[1]);
      const argv = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
      if (ppid === process.pid && argv.some((a) => a.endsWith('tsbuild-sandbox')) && argv.includes('netns')) pids.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

runIf(needsRoot() ?? toolMissing('slirp4netns'))('a prewarmed network namespace is the one the next RUN leases', async (t) => {
  const { leaseNetworkNamespace, prewarmNetworkNamespace } = await import('../runner-native/index.js');
  t.deepEqual(netnsHolders(), []);
  prewarmNetworkNamespace();
  prewarmNetworkNamespace(); // one at a time
  for (let i = 0; i < 100 && netnsHolders().length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  const [warm, ...more] = netnsHolders();
  t.truthy(warm, 'made before any lease');
  t.deepEqual(more, []);
  const lease = await leaseNetworkNamespace();
  t.is(lease.namespacePath, `/proc/${warm}/ns/net`);
  t.deepEqual(netnsHolders(), [warm!], 'the lease made no other');
  // Back in the pool: a prewarm with one free makes none.
  lease.release();
  prewarmNetworkNamespace();
  const again = await leaseNetworkNamespace();
  t.is(again.namespacePath, `/proc/${warm}/ns/net`);
  again.release(true);
});
