// What `tsbuild` does when a server may be involved (--host, -H, the TLS
// and SSH options, or TSBUILD_HOST): the global options are split off,
// and build, version and the store commands run on the server. Shared by
// the full CLI (main.ts) and the remote client's own small bundle
// (remote-main.ts), which hands everything else to the full CLI.
import { reportError } from './report-error.js';
import { expandCommandAlias } from './command-aliases.js';

/** Whether the arguments or the environment may name a server (the launcher asks the same). */
export function mayUseServer(argv: string[], env: NodeJS.ProcessEnv = process.env): boolean {
  const first = argv[0];
  return first?.startsWith('-H') || first?.startsWith('--host') || first?.startsWith('--tls') || first?.startsWith('--ssh') || !!env.TSBUILD_HOST;
}

/**
 * Ran on the server: its exit code. Otherwise what runs on this machine:
 * the arguments left after the global options, and whether this is a
 * command's help shown while --host is set (the caller adds a note).
 */
export type RemoteOutcome = { code: number } | { local: string[]; helpNote: boolean };

export async function runIfRemote(argv: string[], clientVersion: string): Promise<RemoteOutcome> {
  let remote: import('../remote/client.js').ConnectOptions | undefined;
  try {
    const { splitGlobal, connectOptionsOf } = await import('./remote-flags.js');
    const { global, rest } = splitGlobal(argv);
    remote = connectOptionsOf(global);
    argv = expandCommandAlias(rest);
  } catch (err) {
    return { code: await reportError(err) };
  }
  const [first, ...rest] = argv;
  if (!remote || first === undefined || first.startsWith('-')) return { local: argv, helpNote: false };
  // No server route of their own: run here they would prune this machine's store, not the server's.
  if ((first === 'image' || first === 'system') && rest[0] === 'prune' && !rest.includes('--help')) {
    const { UsageError } = await import('../errors.js');
    return { code: await reportError(new UsageError(`"tsbuild ${first} prune" does not run on a server: run it there, or "tsbuild prune" (build cache) and "tsbuild rmi" with --host`)) };
  }
  const { runsRemotely, runRemote } = await import('./remote-dispatch.js');
  const help = rest.includes('--help') || rest.includes('-h');
  // Help texts are the same everywhere: shown without a connection.
  if (runsRemotely(first) && !help) {
    try {
      return { code: await runRemote(remote, first, rest, clientVersion) };
    } catch (err) {
      return { code: await reportError(err) };
    }
  }
  return { local: argv, helpNote: help && !runsRemotely(first) };
}

export const HOST_HELP_NOTE = (command: string) => `\nNote: --host is set, but "${command}" runs on this machine (only build and the store commands run on the server).\n`;
