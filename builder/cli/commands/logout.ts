// `tsbuild logout [SERVER]`: forget the stored credentials of a registry.
import { parseArgs, getBool } from '../args.js';
import { UsageError } from '../../errors.js';
import { logout } from '../../registry/index.js';

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, [{ name: 'help', type: 'bool', help: 'Print usage' }]);
  if (getBool(a, 'help')) {
    process.stdout.write('Usage:  tsbuild logout [SERVER]\n\nLog out from a registry (default: Docker Hub)\n');
    return 0;
  }
  if (a.positionals.length > 1) throw new UsageError('"tsbuild logout" requires at most 1 argument');
  const { registry, removed } = await logout(a.positionals[0]);
  process.stdout.write(removed ? `Removing login credentials for ${registry}\n` : `Not logged in to ${registry}\n`);
  return 0;
}
