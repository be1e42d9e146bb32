// Where the CLI keeps its store: one folder, no daemon. $TSBUILD_ROOT wins;
// root uses /var/lib/tsbuild like other system builders, users their XDG
// data dir. Only the CLI reads this: below it, the root is passed in.
import os from 'node:os';
import path from 'node:path';

export function defaultRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TSBUILD_ROOT) return path.resolve(env.TSBUILD_ROOT);
  if (process.getuid?.() === 0) return '/var/lib/tsbuild';
  const xdg = env.XDG_DATA_HOME ?? path.join(os.homedir(), '.local/share');
  return path.join(xdg, 'tsbuild');
}
