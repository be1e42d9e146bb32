// docker's management commands (`tsbuild image ...`, `builder`, `buildx`,
// `system`): their subcommands with a top-level form are rewritten to it
// before any command runs (command-aliases.ts); what reaches here is a
// subcommand of their own (`image prune`, `system prune`), a request for
// their usage, or a mistake.
import { UsageError } from '../../errors.js';
import { COMMAND_ALIASES } from '../command-aliases.js';

type Run = (argv: string[]) => Promise<number>;

export function managementCommand(group: string, summary: string, own: Record<string, () => Promise<Run>> = {}): { run: Run } {
  return {
    run: async ([sub, ...rest]) => {
      if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
        const names = [...Object.keys(COMMAND_ALIASES[group] ?? {}), ...Object.keys(own)].sort();
        process.stdout.write(`Usage:  tsbuild ${group} COMMAND\n\n${summary}\n\nCommands:\n  ${names.join(', ')}\n\nRun 'tsbuild ${group} COMMAND --help' for more information on a command.\n`);
        return 0;
      }
      const load = Object.hasOwn(own, sub) ? own[sub] : undefined;
      if (!load) throw new UsageError(`'${sub}' is not a tsbuild ${group} command`);
      return (await load())(rest);
    },
  };
}
