// Options before the command that send it to a server: docker's -H/--host
// and TLS flags (also TSBUILD_HOST and TSBUILD_CERT_PATH), plus the SSH
// options for ssh:// hosts.
import path from 'node:path';
import { parseArgs, getBool, getList, getString, type FlagSpec } from './args.js';
import type { ConnectOptions } from '../remote/client.js';

export const GLOBAL_FLAGS: FlagSpec[] = [
  { name: 'host', short: 'H', type: 'string', metavar: 'ADDRESS', help: 'Server to use: unix:///path, tcp://host:port or ssh://[user@]host[:port] (env TSBUILD_HOST)' },
  { name: 'tlsverify', type: 'bool', help: 'Use TLS and verify the server (tcp://)' },
  { name: 'tlscacert', type: 'string', metavar: 'FILE', help: 'CA the server certificate is signed by' },
  { name: 'tlscert', type: 'string', metavar: 'FILE', help: 'Client certificate' },
  { name: 'tlskey', type: 'string', metavar: 'FILE', help: 'Client private key' },
  { name: 'ssh-identity', type: 'list', metavar: 'FILE', help: 'SSH private key for ssh:// (default: the agent, then ~/.ssh/id_*)' },
  { name: 'ssh-accept-new-host-key', type: 'bool', help: 'Add an unknown SSH host key to ~/.ssh/known_hosts (a changed one is still refused)' },
  { name: 'ssh-command', type: 'string', metavar: 'CMD', help: 'Command run on the SSH host (default "tsbuild serve --stdio")' },
];

/** Splits `[global flags] COMMAND args...`; a global flag after the command is the command's own. */
export function splitGlobal(argv: string[]): { global: string[]; rest: string[] } {
  const valued = new Set(GLOBAL_FLAGS.filter((f) => f.type !== 'bool').flatMap((f) => [`--${f.name}`, ...(f.short ? [`-${f.short}`] : [])]));
  let i = 0;
  while (i < argv.length && argv[i]!.startsWith('-') && argv[i] !== '-' && isGlobal(argv[i]!)) i += valued.has(argv[i]!) ? 2 : 1;
  return { global: argv.slice(0, i), rest: argv.slice(i) };
}

function isGlobal(arg: string): boolean {
  const name = arg.startsWith('--') ? arg.slice(2).split('=')[0] : undefined;
  return GLOBAL_FLAGS.some((f) => f.name === name || (arg.length === 2 && f.short === arg.slice(1)));
}

export function connectOptionsOf(global: string[], env: NodeJS.ProcessEnv = process.env): ConnectOptions | undefined {
  const a = parseArgs(global, GLOBAL_FLAGS);
  const host = getString(a, 'host') ?? (env.TSBUILD_HOST || undefined);
  if (!host) return undefined;
  const certPath = env.TSBUILD_CERT_PATH;
  const file = (flag: string, name: string) => getString(a, flag) ?? (certPath ? path.join(certPath, name) : undefined);
  const useTls = getBool(a, 'tlsverify') || env.TSBUILD_TLS_VERIFY === '1' || getString(a, 'tlscert') !== undefined || getString(a, 'tlscacert') !== undefined;
  return {
    host,
    tls: useTls ? { ca: file('tlscacert', 'ca.pem'), cert: file('tlscert', 'cert.pem'), key: file('tlskey', 'key.pem') } : undefined,
    ssh: {
      identityFiles: getList(a, 'ssh-identity'),
      acceptNewHostKey: getBool(a, 'ssh-accept-new-host-key'),
      command: getString(a, 'ssh-command') ?? env.TSBUILD_SSH_COMMAND,
    },
  };
}
