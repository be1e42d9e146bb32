// `tsbuild save -o F [--format docker|oci] IMAGE...`: one tar that `docker load`
// reads; it also carries an OCI layout (as docker save does since v25).
import { parseArgs, getBool, getString, formatFlagHelp, type FlagSpec } from '../args.js';
import { UsageError } from '../../errors.js';
import { exportDockerArchive } from '../../image/export-docker.js';
import { exportOciTar } from '../../image/export-oci.js';
import { openStore } from '../../store/open-store.js';
import { defaultRoot } from '../store-root.js';

const FLAGS: FlagSpec[] = [
  { name: 'output', short: 'o', type: 'string', metavar: 'FILE', help: 'Write to a file, instead of STDOUT' },
  { name: 'format', type: 'string', metavar: 'FORMAT', help: 'docker (default: docker manifest.json + OCI layout) or oci (OCI layout only)' },
  { name: 'compression', type: 'string', metavar: 'C', help: 'Layer compression: uncompressed (default, like docker save) or gzip' },
  { name: 'help', type: 'bool', help: 'Print usage' },
];

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, FLAGS);
  if (getBool(a, 'help')) { process.stdout.write(`Usage:  tsbuild save [OPTIONS] IMAGE [IMAGE...]\n\nSave one or more images to a tar archive\n\nOptions:\n${formatFlagHelp(FLAGS)}\n`); return 0; }
  if (a.positionals.length === 0) throw new UsageError('"tsbuild save" requires at least 1 argument');
  const out = getString(a, 'output');
  if (!out && process.stdout.isTTY) throw new UsageError('cowardly refusing to save to a terminal. Use the -o flag or redirect');
  const format = getString(a, 'format') ?? 'docker';
  if (format !== 'docker' && format !== 'oci') throw new UsageError(`invalid --format "${format}": expected docker or oci`);
  const compression = getString(a, 'compression') ?? 'uncompressed';
  if (compression !== 'gzip' && compression !== 'uncompressed') throw new UsageError(`invalid --compression "${compression}": expected gzip or uncompressed`);
  const store = await openStore(defaultRoot());
  const images = [];
  for (const ref of a.positionals) {
    const found = await store.images.resolve(ref);
    // A name saves under that name; an id saves every name the image has.
    const names = found.tags.includes(ref) || !/^(sha256:)?[0-9a-f]+$/.test(ref) ? [ref] : found.tags;
    images.push({ manifestDigest: found.manifestDigest, names });
  }
  const dest = out ?? process.stdout;
  if (format === 'oci') await exportOciTar(store.content, images, dest, { compression });
  else await exportDockerArchive(store.content, images, dest, { compression });
  return 0;
}
