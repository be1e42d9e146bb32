// `tsbuild info`: where the store is, whether tsbuild runs rootless (and
// with which id mapping), which snapshotter the steps use and why, and what
// the sandbox can enforce here. Run as a user, it reports from inside the
// user namespace it would build in (the CLI enters it first when it can).
import { readFile } from 'node:fs/promises';
import { cgroupDelegation, cgroupVersion, checkRootless, inUserNamespace, sandboxAvailability, slirpInstalled } from '../../../runner-native/index.js';
import { currentSnapshotter } from '../../snapshots/snapshotter.js';
import { openStore } from '../../store/open-store.js';
import { UsageError } from '../../errors.js';
import { defaultRoot } from '../store-root.js';

const USAGE = 'Usage:  tsbuild info\n\nDisplay how tsbuild runs on this machine\n';

function mapping(map: string): string {
  return map.trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number))
    .map(([inside, outside, count]) => count === 1 ? `${inside}→${outside}` : `${inside}-${inside! + count! - 1}→${outside}-${outside! + count! - 1}`)
    .join(', ');
}

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) { process.stdout.write(USAGE); return 0; }
  if (argv.length > 0) throw new UsageError('"tsbuild info" accepts no arguments');
  const lines: [string, string][] = [];
  const root = defaultRoot();
  lines.push(['Store', root]);
  const userns = inUserNamespace();
  const asUser = process.getuid?.() !== 0;
  if (userns) lines.push(['Rootless', `yes, in a user namespace (ids ${mapping(await readFile('/proc/self/uid_map', 'utf8'))})`]);
  else if (asUser) {
    const check = checkRootless();
    lines.push(['Rootless', check.ok ? 'yes (a user namespace is entered for build, run and store changes)' : `cannot enter a user namespace: ${check.reason}`]);
  } else lines.push(['Rootless', 'no (root)']);

  if (asUser && !userns) {
    lines.push(['Snapshotter', 'none: builds need the user namespace (see Rootless)']);
  } else {
    const store = await openStore(root);
    const choice = await currentSnapshotter(store.paths.mounts);
    lines.push(['Snapshotter', `${choice.name} (${choice.reason})`]);
  }
  const sandbox = await sandboxAvailability();
  lines.push(['Sandbox', sandbox.ok ? 'native helper' : sandbox.reason]);
  const cgroups = cgroupVersion();
  const delegation = userns || asUser ? cgroupDelegation() : undefined;
  lines.push(['Cgroups', cgroups === null ? 'none' : `v${cgroups}${!delegation ? ''
    : delegation.ok ? `: limits rootless in the delegated subtree ${delegation.dir} (${delegation.controllers.join(', ')})`
      : `: limits (--memory, --cpus, --pids-limit) are not enforced rootless (${delegation.reason})`}`]);
  lines.push(['Network', slirpInstalled() ? 'slirp4netns' : 'loopback only (slirp4netns is not installed)']);
  const width = Math.max(...lines.map(([k]) => k.length)) + 2;
  process.stdout.write(lines.map(([k, v]) => `${`${k}:`.padEnd(width)}${v}\n`).join(''));
  return 0;
}
