// `tsbuild inspect [--type container|image] NAME...`: docker inspect's JSON
// array; a name is looked up as a container first, then as an image.
import { parseArgs, getBool, getString, formatFlagHelp, type FlagSpec } from '../args.js';
import { UsageError } from '../../errors.js';
import { inspectImage } from '../../image/inspect.js';
import { openStore } from '../../store/open-store.js';
import { defaultRoot } from '../store-root.js';
import { findContainer } from '../../containers/control.js';
import { containerStoreOf } from '../../containers/create.js';
import { inspectContainer } from '../../containers/inspect.js';
import { formatEach } from '../format-output.js';
import { compileTemplate } from '../go-template.js';
import { isUserError } from '../report-error.js';

const FLAGS: FlagSpec[] = [
  { name: 'format', short: 'f', type: 'string', metavar: 'string', help: 'Format output using a Go template, e.g. "{{.State.Status}}" or "{{json .Config}}"' },
  { name: 'type', type: 'string', help: 'Only inspect objects of this type (container or image)' },
  { name: 'size', short: 's', type: 'bool', help: 'Display total file sizes (accepted)' },
  { name: 'help', type: 'bool', help: 'Print usage' },
];

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, FLAGS);
  if (getBool(a, 'help')) { process.stdout.write(`Usage:  tsbuild inspect [OPTIONS] NAME|ID [NAME|ID...]\n\nReturn low-level information on containers and images\n\nOptions:\n${formatFlagHelp(FLAGS)}\n`); return 0; }
  if (a.positionals.length === 0) throw new UsageError('"tsbuild inspect" requires at least 1 argument');
  const type = getString(a, 'type');
  if (type !== undefined && type !== 'container' && type !== 'image') throw new UsageError(`"${type}" is not a valid value for --type`);
  const format = getString(a, 'format');
  if (format) compileTemplate(format); // a bad template fails before any lookup
  const store = await openStore(defaultRoot());
  const containers = containerStoreOf(store);
  const results: unknown[] = [];
  let failed = false;
  for (const ref of a.positionals) {
    try {
      if (type !== 'image') {
        const c = await findContainer(containers, ref).catch((err: { code?: string }) => {
          if (err.code === 'NO_SUCH_CONTAINER' && type === undefined) return null;
          throw err;
        });
        if (c) { results.push(inspectContainer(c)); continue; }
      }
      results.push(await inspectImage(store.content, store.images, ref));
    } catch (err) {
      if (!isUserError(err)) throw err;
      process.stderr.write(`Error: No such object: ${ref}\n`);
      failed = true;
    }
  }
  if (format) process.stdout.write(formatEach(format, results));
  else process.stdout.write(JSON.stringify(results, null, 4) + '\n');
  return failed ? 1 : 0;
}
