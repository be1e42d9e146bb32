// `tsbuild load -i F`: docker save tars and OCI layout tars.
import { parseArgs, getBool, getString, type FlagSpec } from '../args.js';
import { UsageError } from '../../errors.js';
import { loadArchive } from '../../image/load.js';
import { familiarName, parseReference } from '../../image/reference.js';
import { openStore } from '../../store/open-store.js';
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { defaultRoot } from '../store-root.js';

const FLAGS: FlagSpec[] = [
  { name: 'input', short: 'i', type: 'string', metavar: 'FILE', help: 'Read from tar archive file, instead of STDIN' },
  { name: 'quiet', short: 'q', type: 'bool', help: 'Suppress the load output' },
  { name: 'help', type: 'bool', help: 'Print usage' },
];

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, FLAGS);
  if (getBool(a, 'help')) { process.stdout.write('Usage:  tsbuild load [OPTIONS]\n\nLoad an image from a tar archive or STDIN\n'); return 0; }
  if (a.positionals.length > 0) throw new UsageError('"tsbuild load" accepts no arguments (use -i FILE)');
  const store = await openStore(defaultRoot());
  let file = getString(a, 'input');
  let temp: string | undefined;
  if (!file) {
    if (process.stdin.isTTY) throw new UsageError('requested load from stdin, but stdin is empty');
    // The archive is read by member name, in any order: spool stdin to a file first.
    temp = file = path.join(store.paths.state, `load-${process.pid}.tar`);
    await pipeline(process.stdin, createWriteStream(file));
  }
  try {
    const loaded = await loadArchive(store.content, store.images, file);
    if (!getBool(a, 'quiet')) {
      for (const img of loaded) {
        if (img.names.length === 0) process.stdout.write(`Loaded image ID: ${img.configDigest}\n`);
        for (const n of img.names) process.stdout.write(`Loaded image: ${familiarName(parseReference(n))}\n`);
      }
    }
  } finally {
    if (temp) await rm(temp, { force: true });
  }
  return 0;
}
