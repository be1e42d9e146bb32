// `tsbuild debug parse [--format buildkit|json] FILE`: show how tsbuild
// reads a Dockerfile. `--format buildkit` prints BuildKit's parser dump
// (the conformance format), `json` the typed instructions.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs, getBool, getString, formatFlagHelp, type FlagSpec } from '../args.js';
import { UsageError } from '../../errors.js';

const FLAGS: FlagSpec[] = [
  { name: 'format', type: 'string', metavar: 'FORMAT', help: 'Output format: buildkit (s-expressions, the default) or json (typed instructions)' },
  { name: 'help', type: 'bool', help: 'Print usage' },
];

const USAGE = `Usage:  tsbuild debug parse [OPTIONS] FILE|-

Parse a Dockerfile and print its syntax tree

Options:
${formatFlagHelp(FLAGS)}
`;

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'parse') {
    if (sub === undefined || sub === '--help') { process.stdout.write(USAGE); return 0; }
    throw new UsageError(`unknown debug command "${sub}" (available: parse)`);
  }
  const a = parseArgs(rest, FLAGS);
  if (getBool(a, 'help')) { process.stdout.write(USAGE); return 0; }
  if (a.positionals.length !== 1) throw new UsageError('"tsbuild debug parse" requires exactly 1 argument: the Dockerfile');
  const file = a.positionals[0];
  const format = getString(a, 'format') ?? 'buildkit';
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const name = file === '-' ? 'Dockerfile' : path.basename(file);
  if (format === 'buildkit') {
    const { parseAst, dumpBuildkit } = await import('../../../frontend/parser/index.js');
    process.stdout.write(dumpBuildkit(parseAst(text, { file: name })));
    return 0;
  }
  if (format === 'json') {
    const { parseDockerfile } = await import('../../../frontend/instructions/index.js');
    process.stdout.write(JSON.stringify(parseDockerfile(text, { file: name }), null, 2) + '\n');
    return 0;
  }
  throw new UsageError(`invalid --format "${format}": expected buildkit or json`);
}
