// `tsbuild top CONTAINER [ps OPTIONS]`: the container's processes, as the
// host's `ps` shows them (default `-ef` columns), like docker top.
import { spawnSync } from 'node:child_process';
import { openStore } from '../../store/open-store.js';
import { defaultRoot } from '../store-root.js';
import { findContainer } from '../../containers/control.js';
import { containerStoreOf } from '../../containers/create.js';
import { ContainerError } from '../../containers/errors.js';
import { cgroupMembers } from '../../containers/init-process.js';
import { getBool, parseArgs, type FlagSpec } from '../args.js';
import { UsageError } from '../../errors.js';

const FLAGS: FlagSpec[] = [{ name: 'help', type: 'bool', help: 'Print usage' }];

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv.slice(0, 1), FLAGS);
  if (getBool(a, 'help')) { process.stdout.write('Usage:  tsbuild top CONTAINER [ps OPTIONS]\n\nDisplay the running processes of a container\n'); return 0; }
  const [ref, ...psArgs] = argv;
  if (!ref) throw new UsageError('"tsbuild top" requires at least 1 argument: CONTAINER');
  const c = await findContainer(containerStoreOf(await openStore(defaultRoot())), ref);
  if (c.state.status !== 'running') throw new ContainerError('CONTAINER_NOT_RUNNING', `container ${c.config.name} is not running`);
  const pids = await cgroupMembers(c.config.spec.linux.cgroupsPath!);
  const r = spawnSync('ps', [...(psArgs.length > 0 ? psArgs : ['-f']), '-p', pids.join(',')], { encoding: 'utf8' });
  if (r.error || (r.status !== 0 && !r.stdout)) throw new ContainerError('INVALID_RUN_OPTION', `ps failed: ${r.error?.message ?? r.stderr.trim()}`);
  process.stdout.write(r.stdout);
  return 0;
}
