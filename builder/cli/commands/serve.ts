// `tsbuild serve`: a long-running builder with a warm store that clients
// reach with `--host` (unix socket, mutual-TLS TCP, or SSH through
// `serve --stdio`). SIGTERM stops accepting, lets running builds finish
// within --shutdown-timeout, then cancels them.
import os from 'node:os';
import net from 'node:net';
import { Duplex } from 'node:stream';
import { parseArgs, getBool, getList, getString, formatFlagHelp, type FlagSpec } from '../args.js';
import { UsageError } from '../../errors.js';
import { parseCache } from '../build-request.js';
import { defaultSocketPath, parseAddress } from '../../remote/address.js';
import { parseDuration } from '../../../cache/gc-config.js';
import { version } from '../version.js';
import { defaultRoot } from '../store-root.js';
import type { ServeSettings } from '../../server/server-context.js';

const FLAGS: FlagSpec[] = [
  { name: 'addr', type: 'list', metavar: 'ADDRESS', help: 'Listen on unix:///path, tcp://host:port or fd:// (systemd); repeatable (default: unix://' + '<default socket>)' },
  { name: 'stdio', type: 'bool', help: 'Serve one client on stdin/stdout (what ssh:// runs); proxies to a running server\'s socket when there is one' },
  { name: 'tlscacert', type: 'string', metavar: 'FILE', help: 'CA that signs the client certificates (TLS: clients must present one)' },
  { name: 'tlscert', type: 'string', metavar: 'FILE', help: 'Server certificate (TLS)' },
  { name: 'tlskey', type: 'string', metavar: 'FILE', help: 'Server private key (TLS)' },
  { name: 'group', type: 'string', metavar: 'NAME', help: 'Group owning the unix socket (default "tsbuild", when it exists)' },
  { name: 'max-parallelism', type: 'string', metavar: 'N', help: 'Steps running at once across all builds (default: the CPU count)' },
  { name: 'shutdown-timeout', type: 'string', metavar: 'DURATION', help: 'On SIGTERM, how long running builds may take to finish before they are canceled (default 30s)' },
  { name: 'cache-from', type: 'list', metavar: 'SPEC', help: 'Cache sources for every build that names none (e.g. "type=registry,ref=reg/app:cache")' },
  { name: 'cache-to', type: 'list', metavar: 'SPEC', help: 'Cache export for every build that names none' },
  { name: 'allow-insecure-entitlement', type: 'list', metavar: 'NAME', help: 'Let clients ask for an insecure entitlement: network.host (--network=host) or security.insecure; repeatable' },
  { name: 'help', type: 'bool', help: 'Print usage' },
];

const USAGE = `Usage:  tsbuild serve [OPTIONS]

Run a build server that clients use with --host or TSBUILD_HOST

Options:
${formatFlagHelp(FLAGS)}

The default socket is ${defaultSocketPath()} (mode 0660, group "tsbuild").
TCP off loopback needs --tlscacert, --tlscert and --tlskey. See docs/server.md.
`;

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, FLAGS);
  if (getBool(a, 'help')) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (a.positionals.length > 0) throw new UsageError('"tsbuild serve" accepts no arguments');
  const maxPar = getString(a, 'max-parallelism');
  const maxParallelism = maxPar === undefined ? os.availableParallelism() : Number(maxPar);
  if (!Number.isInteger(maxParallelism) || maxParallelism < 1) throw new UsageError(`invalid --max-parallelism "${maxPar}": expected a positive integer`);
  const timeoutText = getString(a, 'shutdown-timeout') ?? '30s';
  const shutdownMs = /^\d+$/.test(timeoutText) ? Number(timeoutText) * 1000 : parseDuration(timeoutText);
  const settings: ServeSettings = {
    root: defaultRoot(),
    maxParallelism,
    cacheFrom: getList(a, 'cache-from').map((s) => parseCache(s, '--cache-from')),
    cacheTo: getList(a, 'cache-to').map((s) => parseCache(s, '--cache-to')),
    allowInsecure: entitlements(getList(a, 'allow-insecure-entitlement')),
    keepStorage: process.env.TSBUILD_GC_KEEP_STORAGE,
  };
  const addrs = getList(a, 'addr');
  if (getBool(a, 'stdio')) return serveStdio(settings, addrs);
  const { startServer } = await import('../../server/start.js');
  const tls = { ca: getString(a, 'tlscacert'), cert: getString(a, 'tlscert'), key: getString(a, 'tlskey') };
  const server = await startServer(settings, addrs.length > 0 ? addrs : [`unix://${defaultSocketPath()}`], tls, getString(a, 'group') ?? 'tsbuild', version());
  for (const l of server.listeners) process.stderr.write(`tsbuild ${version()} serving on ${l.address}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.stderr.write('tsbuild serve: shutting down\n');
      void server.shutdown(shutdownMs).then(resolve);
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  return 0;
}

const ENTITLEMENTS = ['network.host', 'security.insecure'];

/** buildkitd's names; one the server does not know is a usage error, not silently nothing. */
function entitlements(names: string[]): string[] {
  for (const name of names) {
    if (!ENTITLEMENTS.includes(name)) throw new UsageError(`invalid --allow-insecure-entitlement "${name}": expected one of ${ENTITLEMENTS.join(', ')}`);
  }
  return names;
}

// `ssh host tsbuild serve --stdio`: like `docker system dial-stdio`, the
// bytes go to the running server when one listens on the socket (one warm
// store, one parallelism limit); without one, this process serves the
// connection itself.
async function serveStdio(settings: ServeSettings, addrs: string[]): Promise<number> {
  const unix = addrs.map((x) => parseAddress(x)).find((x) => x.kind === 'unix');
  const sockPath = unix?.kind === 'unix' ? unix.path : defaultSocketPath();
  const socket = await new Promise<net.Socket | undefined>((resolve) => {
    const s = net.connect(sockPath, () => resolve(s));
    s.once('error', () => resolve(undefined));
  });
  if (socket) {
    process.stdin.pipe(socket);
    socket.pipe(process.stdout);
    await new Promise<void>((resolve) => {
      socket.on('close', resolve);
      process.stdin.on('end', () => socket.end());
    });
    return 0;
  }
  const { serveOneConnection } = await import('../../server/start.js');
  await serveOneConnection(settings, Duplex.from({ readable: process.stdin, writable: process.stdout }), version());
  return 0;
}
