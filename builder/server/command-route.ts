// Store commands run on the server (images, inspect, history, tag, rmi,
// push, pull, du, prune): the CLI's own command in a child process against
// the server's store, its stdin fed from the client, its stdout, stderr and
// exit code streamed back, so the output is exactly a local one.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { packageRoot } from '../../runner-native/package-root.js';
import { readMessages, encodeMessage } from '../remote/messages.js';
import { RemoteError } from '../remote/errors.js';
import { REMOTE_COMMANDS } from '../remote/protocol.js';
import type { Route } from './respond.js';

type CommandMessage = { type: 'command'; command: string; args: string[] } | { type: 'stdin'; data: string } | { type: 'stdin-end' };

export const handleCommand: Route = async (ctx, stream) => {
  const messages = readMessages<CommandMessage>(stream);
  const first = await messages.next();
  if (first.done || first.value.type !== 'command') throw new RemoteError('REMOTE_PROTOCOL', 'a command stream starts with a command message');
  const { command, args } = first.value;
  if (typeof command !== 'string' || !REMOTE_COMMANDS.has(command)) throw new RemoteError('REMOTE_UNSUPPORTED', `"${String(command)}" cannot run on a server (remote commands: ${[...REMOTE_COMMANDS].join(', ')})`);
  if (!Array.isArray(args) || !args.every((a) => typeof a === 'string')) throw new RemoteError('REMOTE_PROTOCOL', 'command arguments must be strings');
  const child = spawn(process.execPath, [path.join(packageRoot(), 'bin', 'tsbuild.js'), command, ...args], {
    env: { ...process.env, TSBUILD_ROOT: ctx.settings.root },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  stream.respond({ ':status': 200, 'content-type': 'application/x-ndjson' });
  const send = (m: object) => {
    if (!stream.destroyed && !stream.writableEnded) stream.write(encodeMessage(m));
  };
  child.stdin.on('error', () => undefined);
  child.stdout.on('data', (d: Buffer) => send({ type: 'stdout', data: d.toString('base64') }));
  child.stderr.on('data', (d: Buffer) => send({ type: 'stderr', data: d.toString('base64') }));
  stream.on('close', () => child.exitCode === null && child.kill('SIGINT'));
  void (async () => {
    try {
      for await (const m of messages) {
        if (m.type === 'stdin') child.stdin.write(Buffer.from(String(m.data), 'base64'));
        else if (m.type === 'stdin-end') child.stdin.end();
      }
    } catch {
      child.kill('SIGINT');
    }
    child.stdin.end();
  })();
  const code = await new Promise<number>((resolve) => {
    child.on('error', () => resolve(125));
    child.on('close', (c) => resolve(c ?? 1));
  });
  send({ type: 'exit', code });
  if (!stream.destroyed) stream.end();
};
