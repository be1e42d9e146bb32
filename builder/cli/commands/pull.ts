// `tsbuild pull NAME[:TAG|@DIGEST]`: an image from a registry into the local store.
import { parseArgs, getBool, getString, formatFlagHelp, type FlagSpec } from '../args.js';
import { UsageError } from '../../errors.js';
import { openStore } from '../../store/open-store.js';
import { hostPlatform } from '../../image/platform.js';
import { parseReference } from '../../image/reference.js';
import type { Platform } from '../../image/types.js';
import { parsePlatform } from '../../../frontend/graph/platform.js';
import { pullImage, type TransferEvent } from '../../registry/index.js';
import { defaultRoot } from '../store-root.js';

const FLAGS: FlagSpec[] = [
  { name: 'platform', type: 'string', help: 'Set platform if server is multi-platform capable (e.g. linux/arm64)' },
  { name: 'quiet', short: 'q', type: 'bool', help: 'Suppress verbose output' },
  { name: 'help', type: 'bool', help: 'Print usage' },
];

export function platformFlag(text: string | undefined): Platform {
  const host = hostPlatform();
  if (text === undefined) return host;
  const p = parsePlatform(text, host);
  return { os: p.os, architecture: p.architecture, ...(p.variant ? { variant: p.variant } : {}) };
}

function pullLine(e: TransferEvent): string | undefined {
  if (e.kind !== 'layer') return undefined;
  if (e.phase === 'exists') return `${e.digest.slice(7, 19)}: Already exists`;
  if (e.phase === 'done') return `${e.digest.slice(7, 19)}: Pull complete`;
  return undefined;
}

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, FLAGS);
  if (getBool(a, 'help')) {
    process.stdout.write(`Usage:  tsbuild pull [OPTIONS] NAME[:TAG|@DIGEST]\n\nDownload an image from a registry\n\nOptions:\n${formatFlagHelp(FLAGS)}\n`);
    return 0;
  }
  if (a.positionals.length !== 1) throw new UsageError('"tsbuild pull" requires exactly 1 argument');
  const text = a.positionals[0]!;
  const quiet = getBool(a, 'quiet');
  const platform = platformFlag(getString(a, 'platform'));
  const ref = parseReference(text);
  const store = await openStore(defaultRoot());
  if (!quiet) process.stdout.write(`${ref.tag ?? ref.digest}: Pulling from ${ref.path}\n`);
  let downloaded = false;
  const result = await pullImage(store.content, store.images, text, {
    platform,
    onProgress: (e) => {
      if (e.kind !== 'manifest' && e.phase === 'done') downloaded = true;
      const line = quiet ? undefined : pullLine(e);
      if (line) process.stdout.write(line + '\n');
    },
  });
  if (!quiet) {
    const status = downloaded ? `Downloaded newer image for ${result.ref}` : `Image is up to date for ${result.ref}`;
    process.stdout.write(`Digest: ${result.manifestDigest}\nStatus: ${status}\n`);
  }
  process.stdout.write(`${result.ref}\n`);
  return 0;
}
