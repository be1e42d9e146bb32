// `tsbuild wait CONTAINER...`: blocks until each container stops, then prints its exit code.
import { setTimeout as sleep } from 'node:timers/promises';
import { openStore } from '../../store/open-store.js';
import { defaultRoot } from '../store-root.js';
import { findContainer, isActive, isLost, reapLost } from '../../containers/control.js';
import { containerStoreOf } from '../../containers/create.js';
import { getBool, parseArgs, type FlagSpec } from '../args.js';
import { UsageError } from '../../errors.js';
import { isUserError } from '../report-error.js';

const FLAGS: FlagSpec[] = [{ name: 'help', type: 'bool', help: 'Print usage' }];

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, FLAGS);
  if (getBool(a, 'help')) { process.stdout.write('Usage:  tsbuild wait CONTAINER [CONTAINER...]\n\nBlock until one or more containers stop, then print their exit codes\n'); return 0; }
  if (a.positionals.length === 0) throw new UsageError('"tsbuild wait" requires at least 1 argument: CONTAINER');
  const containers = containerStoreOf(await openStore(defaultRoot()));
  let failed = false;
  for (const ref of a.positionals) {
    try {
      const c = await findContainer(containers, ref);
      let current = c;
      while (isActive(current.state)) {
        await sleep(100);
        const fresh = await containers.load(c.config.id);
        if (!fresh) break; // --rm removed it: it has stopped
        if (isLost(fresh)) await reapLost(containers, fresh);
        current = (await containers.load(c.config.id)) ?? { ...fresh, state: { ...fresh.state, status: 'exited', restarting: false } };
      }
      process.stdout.write(`${current.state.exitCode ?? 0}\n`);
    } catch (err) {
      if (!isUserError(err)) throw err;
      process.stderr.write(`ERROR: ${err.message}\n`);
      failed = true;
    }
  }
  return failed ? 1 : 0;
}
