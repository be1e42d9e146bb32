// RUN's default network namespace can be made ahead of the RUN (the step
// runner asks for it when a COPY starts): the next lease gets that one,
// and no second namespace is made. Its slirp4netns is the holder's child
// and ends with it.
import { readdirSync, readFileSync } from 'node:fs';
import test from 'ava';
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

// Serial: both use this process's pool of namespaces.
runIf(needsRoot() ?? toolMissing('slirp4netns'), test.serial)('a prewarmed network namespace is the one the next RUN leases', async (t) => {
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

/** Processes whose parent is `ppid`, by their command name (/proc/<pid>/comm). */
function childrenOf(ppid: number, comm: string): number[] {
  const pids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const parent = Number(stat.replace(/^.*\) /s, '').split(' ')[1]);
      if (parent === ppid && readFileSync(`/proc/${e}/comm`, 'utf8').trim() === comm) pids.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

runIf(needsRoot() ?? toolMissing('slirp4netns'), test.serial)('the holder starts its namespace\'s slirp4netns itself, and it ends with the holder', async (t) => {
  const { leaseNetworkNamespace } = await import('../runner-native/index.js');
  const lease = await leaseNetworkNamespace();
  const holder = Number(/^\/proc\/(\d+)\/ns\/net$/.exec(lease.namespacePath)?.[1]);
  t.is(lease.resolvConf, 'nameserver 10.0.2.3\n');
  // slirp4netns is the holder's child (no fork of this process), and its tap device is up in the namespace.
  const [slirp, ...more] = childrenOf(holder, 'slirp4netns');
  t.truthy(slirp);
  t.deepEqual(more, []);
  t.deepEqual(childrenOf(process.pid, 'slirp4netns'), []);
  t.regex(readFileSync(`/proc/${holder}/net/dev`, 'utf8'), /^\s*tap0:/m);
  // Discarded: the holder is killed, and slirp4netns follows through its exit fd.
  lease.release(true);
  let alive = true;
  for (let i = 0; i < 100 && alive; i++) {
    await new Promise((r) => setTimeout(r, 20));
    const state = (() => { try { return readFileSync(`/proc/${slirp}/stat`, 'utf8').replace(/^.*\) /s, '')[0]; } catch { return undefined; } })();
    alive = state !== undefined && state !== 'Z' && state !== 'X';
  }
  t.false(alive, 'slirp4netns exited with its holder');
});
