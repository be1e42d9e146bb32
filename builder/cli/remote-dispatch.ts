// With --host (or TSBUILD_HOST), `build` and the store commands run on the
// server; `version` shows both sides; every other command stays local.
import { RemoteConnection, type ConnectOptions } from '../remote/client.js';
import { REMOTE_COMMANDS } from '../remote/protocol.js';
import { UsageError } from '../errors.js';
import { setFlagsFromString } from 'node:v8';

export function runsRemotely(command: string): boolean {
  return command === 'build' || command === 'version' || REMOTE_COMMANDS.has(command);
}

export async function runRemote(opts: ConnectOptions, command: string, args: string[], clientVersion: string): Promise<number> {
  // A remote client lives for a fraction of a second and its one hot loop
  // (a stat per context file) runs once: V8's optimizing compiler would
  // spend more CPU compiling it than it saves (about 15 ms of a 5,000-file
  // no-op here, on a machine where the server competes for the same CPUs).
  // Restored before the launcher saves its code cache, which V8 accepts
  // only from a process with the same flags.
  setFlagsFromString('--no-opt');
  try {
    return await dispatch(opts, command, args, clientVersion);
  } finally {
    setFlagsFromString('--opt');
  }
}

async function dispatch(opts: ConnectOptions, command: string, args: string[], clientVersion: string): Promise<number> {
  if (command === 'build') {
    const { withBuildRequest } = await import('./commands/build.js');
    return withBuildRequest(args, async (build) => {
      // Connecting while the context is walked: the server answers the
      // hello meanwhile (one round trip less to wait for on a busy machine).
      const connecting = RemoteConnection.connect(opts);
      connecting.catch(() => undefined);
      try {
        const { remoteBuild } = await import('../remote/remote-build.js');
        return await remoteBuild(connecting, build);
      } finally {
        (await connecting.catch(() => undefined))?.close();
      }
    });
  }
  const conn = await RemoteConnection.connect(opts);
  try {
    if (command === 'version') {
      if (args.length > 0) throw new UsageError('"tsbuild version" accepts no arguments');
      process.stdout.write(`Client: tsbuild ${clientVersion}\nServer: tsbuild ${conn.hello.server} (${opts.host}, protocol v${conn.hello.protocol})\n`);
      return 0;
    }
    const { remoteCommand } = await import('../remote/remote-command.js');
    // prune asks for confirmation unless forced: the answer comes from this terminal.
    const withStdin = command === 'prune' && !args.some((x) => x === '-f' || x === '--force' || /^-[a-z]*f/.test(x));
    return await remoteCommand(conn, command, args, withStdin);
  } finally {
    conn.close();
  }
}
