// With --host (or TSBUILD_HOST), `build` and the store commands run on the
// server; `version` shows both sides; every other command stays local.
import path from 'node:path';
import type { ConnectOptions } from '../remote/client.js';
import { REMOTE_COMMANDS } from '../remote/protocol.js';
import { UsageError } from '../errors.js';

export function runsRemotely(command: string): boolean {
  return command === 'build' || command === 'version' || REMOTE_COMMANDS.has(command);
}

/**
 * The context directory and Dockerfile a build's arguments most likely
 * name: the last argument, and its Dockerfile (none with -f, stdin or a
 * URL). Only a guess: the flags read whole decide.
 */
function likelyContext(args: string[]): { contextDir: string; dockerfilePath: string } | undefined {
  const last = args[args.length - 1];
  if (last === undefined || last.startsWith('-') || /^[a-z]+:\/\/|^git@|^github\.com\//.test(last) || args.some((a) => a.startsWith('-f') || a.startsWith('--file'))) return undefined;
  const contextDir = path.resolve(last);
  return { contextDir, dockerfilePath: path.join(contextDir, 'Dockerfile') };
}

export async function runRemote(opts: ConnectOptions, command: string, args: string[], clientVersion: string): Promise<number> {
  if (command === 'build') {
    // The context's check starts first, in another process when it can
    // (native-stat-check.ts): it lstats the context while this one reads
    // the flags, loads the client and asks the server. Started on the
    // context the arguments most likely name, before the flags are read
    // whole (or anything else is loaded); kept only if they name the same.
    const { startContextCheck } = await import('../remote/context-check.js');
    const { nativeStatCheck } = await import('../remote/native-stat-check.js');
    const guess = likelyContext(args);
    const early = guess && { ...guess, check: startContextCheck(guess.contextDir, guess.dockerfilePath, nativeStatCheck) };
    // A no-op's question goes next, on a connection of its own, opened now
    // so that it is up when the question is ready (remote/memo-wire.ts).
    const { dialMemoWire, buildThroughMemoWire } = await import('../remote/memo-wire.js');
    const memoWire = dialMemoWire(opts);
    const { withBuildRequest } = await import('./build-request.js');
    return withBuildRequest(args, async (build) => {
      const { contextDir, dockerfilePath } = build.build;
      const check = early && early.contextDir === path.resolve(contextDir) && early.dockerfilePath === dockerfilePath ? early.check : startContextCheck(contextDir, dockerfilePath, nativeStatCheck);
      const wire = await buildThroughMemoWire(memoWire, build, check);
      if ('code' in wire) return wire.code;
      const { RemoteConnection } = await import('../remote/client.js');
      const connecting = RemoteConnection.connect(opts);
      connecting.catch(() => undefined);
      try {
        const { askMemoEarly, remoteBuild } = await import('../remote/remote-build.js');
        return await remoteBuild(connecting, build, check, wire.askHttp ? askMemoEarly(connecting, build, check) : undefined, wire.manifest);
      } finally {
        (await connecting.catch(() => undefined))?.close();
      }
    }).finally(() => memoWire?.close());
  }
  const { RemoteConnection } = await import('../remote/client.js');
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
