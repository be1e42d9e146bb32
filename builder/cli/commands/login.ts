// `tsbuild login [-u USER] [-p PASS | --password-stdin] [SERVER]`: check
// credentials against the registry, then store them in the docker config
// (or its credential helper), like `docker login`.
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { parseArgs, getBool, getString, formatFlagHelp, type FlagSpec } from '../args.js';
import { UsageError } from '../../errors.js';
import { login } from '../../registry/index.js';
import { defaultRoot } from '../store-root.js';

const FLAGS: FlagSpec[] = [
  { name: 'username', short: 'u', type: 'string', help: 'Username' },
  { name: 'password', short: 'p', type: 'string', help: 'Password' },
  { name: 'password-stdin', type: 'bool', help: 'Take the password from stdin' },
  { name: 'help', type: 'bool', help: 'Print usage' },
];

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  // Only the line ending goes: a password may end in spaces.
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Ask on the terminal; `hidden` echoes nothing (for passwords). */
async function prompt(question: string, hidden: boolean): Promise<string> {
  let muted = false;
  const output = new Writable({
    write(chunk, _enc, cb) {
      if (!muted) process.stderr.write(chunk as Buffer);
      cb();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  try {
    const answer = new Promise<string>((resolve) => rl.question(question, resolve));
    muted = hidden;
    const value = await answer;
    if (hidden) process.stderr.write('\n');
    return value;
  } finally {
    rl.close();
  }
}

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, FLAGS);
  if (getBool(a, 'help')) {
    process.stdout.write(`Usage:  tsbuild login [OPTIONS] [SERVER]\n\nLog in to a registry (default: Docker Hub)\n\nOptions:\n${formatFlagHelp(FLAGS)}\n`);
    return 0;
  }
  if (a.positionals.length > 1) throw new UsageError('"tsbuild login" requires at most 1 argument');
  const server = a.positionals[0];
  let username = getString(a, 'username');
  let password = getString(a, 'password');
  const fromStdin = getBool(a, 'password-stdin');
  if (fromStdin && password !== undefined) throw new UsageError('--password and --password-stdin are mutually exclusive');
  if (fromStdin) {
    if (username === undefined) throw new UsageError('must provide --username with --password-stdin');
    password = await readStdin();
  } else if (password !== undefined) {
    process.stderr.write('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
  }
  const interactive = process.stdin.isTTY === true;
  if (username === undefined) {
    if (!interactive) throw new UsageError('username required: pass -u USER (stdin is not a terminal)');
    username = (await prompt('Username: ', false)).trim();
  }
  if (password === undefined) {
    if (!interactive) throw new UsageError('password required: pass --password-stdin or -p (stdin is not a terminal)');
    password = await prompt('Password: ', true);
  }
  if (username === '') throw new UsageError('username is empty');
  if (password === '') throw new UsageError('password is empty');
  const { loadRegistrySettings } = await import('../../registry/index.js');
  await login(server, { username, password }, { settings: await loadRegistrySettings(defaultRoot()) });
  process.stdout.write('Login Succeeded\n');
  return 0;
}
