// `tsbuild import ROOTFS.tar|- [NAME[:TAG]]`: one-layer image from a rootfs tar.
import { parseArgs, getBool, getList, getString, type FlagSpec } from '../args.js';
import { UsageError } from '../../errors.js';
import { importRootfs } from '../../image/import-rootfs.js';
import { openStore } from '../../store/open-store.js';
import { defaultRoot } from '../store-root.js';

const FLAGS: FlagSpec[] = [
  { name: 'message', short: 'm', type: 'string', metavar: 'MSG', help: 'Set commit message for imported image' },
  { name: 'change', short: 'c', type: 'list', metavar: 'INSTR', help: 'Apply a Dockerfile instruction to the image (CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, LABEL)' },
  { name: 'help', type: 'bool', help: 'Print usage' },
];

function applyChange(config: Record<string, unknown>, change: string): void {
  const m = /^\s*(\w+)\s+(.*)$/s.exec(change);
  if (!m) throw new UsageError(`invalid --change "${change}"`);
  const [, kw, rest] = m;
  const jsonOrShell = (s: string) => (s.trim().startsWith('[') ? JSON.parse(s) as string[] : ['/bin/sh', '-c', s]);
  switch (kw.toUpperCase()) {
    case 'CMD': config.Cmd = jsonOrShell(rest); break;
    case 'ENTRYPOINT': config.Entrypoint = jsonOrShell(rest); break;
    case 'WORKDIR': config.WorkingDir = rest.trim(); break;
    case 'USER': config.User = rest.trim(); break;
    case 'ENV': (config.Env = (config.Env as string[] | undefined) ?? []) && (config.Env as string[]).push(rest.includes('=') ? rest.trim() : rest.trim().replace(/\s+/, '=')); break;
    case 'EXPOSE': config.ExposedPorts = { ...(config.ExposedPorts as object ?? {}), [rest.includes('/') ? rest.trim() : `${rest.trim()}/tcp`]: {} }; break;
    case 'LABEL': { const [k, ...v] = rest.trim().split('='); config.Labels = { ...(config.Labels as object ?? {}), [k]: v.join('=').replace(/^"|"$/g, '') }; break; }
    default: throw new UsageError(`--change: ${kw} is not supported (CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, LABEL)`);
  }
}

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, FLAGS);
  if (getBool(a, 'help')) { process.stdout.write('Usage:  tsbuild import [OPTIONS] file|- [REPOSITORY[:TAG]]\n'); return 0; }
  if (a.positionals.length < 1 || a.positionals.length > 2) throw new UsageError('"tsbuild import" requires 1 or 2 arguments');
  const [src, ref] = a.positionals;
  const config: Record<string, unknown> = {};
  for (const c of getList(a, 'change')) applyChange(config, c);
  const store = await openStore(defaultRoot());
  const image = await importRootfs(store.content, store.images, src === '-' ? process.stdin : src, ref, { config, message: getString(a, 'message') });
  process.stdout.write(image.configDigest + '\n');
  return 0;
}
