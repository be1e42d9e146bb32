// `tsbuild port CONTAINER [PRIVATE_PORT[/PROTO]]`: the published ports, as docker prints them.
import { openStore } from '../../store/open-store.js';
import { defaultRoot } from '../store-root.js';
import { findContainer } from '../../containers/control.js';
import { containerStoreOf } from '../../containers/create.js';
import { ContainerError } from '../../containers/errors.js';
import { getBool, parseArgs, type FlagSpec } from '../args.js';
import { UsageError } from '../../errors.js';

const FLAGS: FlagSpec[] = [{ name: 'help', type: 'bool', help: 'Print usage' }];

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, FLAGS);
  if (getBool(a, 'help')) { process.stdout.write('Usage:  tsbuild port CONTAINER [PRIVATE_PORT[/PROTO]]\n\nList port mappings or a specific mapping for the container\n'); return 0; }
  if (a.positionals.length < 1 || a.positionals.length > 2) throw new UsageError('"tsbuild port" requires 1 or 2 arguments: CONTAINER [PRIVATE_PORT[/PROTO]]');
  const c = await findContainer(containerStoreOf(await openStore(defaultRoot())), a.positionals[0]!);
  const ports = c.state.status === 'running' ? c.state.ports ?? [] : [];
  const wanted = a.positionals[1];
  const [wantedPort, wantedProto = 'tcp'] = wanted?.split('/') ?? [];
  const shown = wanted === undefined ? ports : ports.filter((p) => String(p.containerPort) === wantedPort && p.protocol === wantedProto);
  if (wanted !== undefined && shown.length === 0) throw new ContainerError('INVALID_RUN_OPTION', `no public port '${wanted}' published for ${c.config.name}`);
  const host = (ip: string, port: number) => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);
  process.stdout.write(shown.map((p) => (wanted === undefined ? `${p.containerPort}/${p.protocol} -> ` : '') + `${host(p.hostIp, p.hostPort)}\n`).join(''));
  return 0;
}
