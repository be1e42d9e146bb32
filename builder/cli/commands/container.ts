// `tsbuild container SUBCOMMAND`: docker's management command spelling
// (`container ls`, `container inspect`, `container prune`, ...), the same
// commands as their top-level forms.
import {  } from '../args.js';
import { UsageError } from '../../errors.js';
import { pruneContainers } from './container-prune.js';

type Loader = () => Promise<{ run(argv: string[]): Promise<number> }>;

const SUBCOMMANDS: Record<string, Loader> = {
  ls: () => import('./ps.js'), list: () => import('./ps.js'), ps: () => import('./ps.js'),
  inspect: async () => ({ run: async (argv) => (await import('./inspect.js')).run(['--type', 'container', ...argv]) }),
  prune: async () => ({ run: pruneContainers }),
  run: () => import('./run.js'), exec: () => import('./exec.js'), attach: () => import('./attach.js'),
  start: () => import('./start.js'), stop: () => import('./stop.js'), restart: () => import('./restart.js'),
  kill: () => import('./kill.js'), wait: () => import('./wait.js'), rm: () => import('./rm.js'),
  logs: () => import('./logs.js'), port: () => import('./port.js'), top: () => import('./top.js'),
  stats: () => import('./stats.js'), cp: () => import('./cp.js'), rename: () => import('./rename.js'),
};

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === 'help') {
    process.stdout.write(`Usage:  tsbuild container COMMAND\n\nManage containers\n\nCommands:\n  ${Object.keys(SUBCOMMANDS).join(', ')}\n`);
    return 0;
  }
  const load = Object.hasOwn(SUBCOMMANDS, sub) ? SUBCOMMANDS[sub] : undefined;
  if (!load) throw new UsageError(`'${sub}' is not a tsbuild container command`);
  return (await load()).run(rest);
}

