// The `tsbuild` entry point. Subcommands are imported lazily so that
// `tsbuild --version` and `--help` load almost nothing.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../runner-native/package-root.js';
import { reportError } from './report-error.js';

// What --help lists; each name is a key of commands/index.ts's table.
const COMMANDS: Record<string, { summary: string }> = {
  build: { summary: 'Build an image from a Dockerfile' },
  run: { summary: 'Run a command in a new container' },
  ps: { summary: 'List containers' },
  logs: { summary: 'Fetch the logs of a container' },
  stop: { summary: 'Stop one or more running containers' },
  rm: { summary: 'Remove one or more containers' },
  images: { summary: 'List images' },
  inspect: { summary: 'Display detailed information on images' },
  history: { summary: 'Show the history of an image' },
  pull: { summary: 'Download an image from a registry' },
  push: { summary: 'Upload an image to a registry' },
  login: { summary: 'Log in to a registry' },
  logout: { summary: 'Log out from a registry' },
  tag: { summary: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE' },
  rmi: { summary: 'Remove one or more images' },
  save: { summary: 'Save one or more images to a tar archive' },
  load: { summary: 'Load an image from a tar archive' },
  import: { summary: 'Import the contents from a tarball to create a filesystem image' },
  du: { summary: 'Show disk usage of the store and the build cache' },
  prune: { summary: 'Remove build cache and unused data' },
  debug: { summary: 'Debugging tools (debug parse)' },
};

export function version(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length)) + 2;
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}${c.summary}`);
  return [
    'Usage:  tsbuild [OPTIONS] COMMAND',
    '',
    'A daemonless Dockerfile image builder',
    '',
    'Options:',
    '  -v, --version   Print version information and quit',
    '  -h, --help      Print usage',
    '',
    'Commands:',
    ...lines,
    '',
    "Run 'tsbuild COMMAND --help' for more information on a command.",
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === '--version' || first === '-v' || first === 'version') {
    process.stdout.write(`tsbuild version ${version()}\n`);
    return 0;
  }
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    process.stdout.write(usage() + '\n');
    return first === undefined ? 1 : 0;
  }
  if (!Object.hasOwn(COMMANDS, first)) {
    process.stderr.write(`tsbuild: '${first}' is not a tsbuild command.\nSee 'tsbuild --help'\n`);
    return 1;
  }
  try {
    const { COMMAND_MODULES } = await import('./commands/index.js');
    return await COMMAND_MODULES[first]!.run(rest);
  } catch (err) {
    return await reportError(err);
  }
}
