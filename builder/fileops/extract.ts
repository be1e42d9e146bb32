/**
 * Safe extraction of a tar stream into a directory for ADD, with the
 * semantics of moby's chrootarchive.Untar: the extraction directory acts as
 * the root (absolute symlink targets inside the archive resolve under it),
 * entries naming a path above it are refused, relative symlinks and hard
 * links pointing above it are refused, existing entries are replaced (and
 * directories merged). Every parent is resolved with the in-root resolver, so
 * neither a symlink planted earlier in the archive nor one already in the
 * image can redirect a write outside. Whiteout files are NOT interpreted: an
 * ADDed archive is content, not a layer.
 */
import { chmod, link, mkdir, open, rm, symlink } from 'node:fs/promises';
import { constants } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { extract as tarExtract, type Extract as TarExtract } from 'tar-stream';
import type { Owner } from './chown.js';
import type { CopySummary } from './copy-tree.js';
import { ArchiveError } from './errors.js';
import { lstatOrNull, makeNode, mkdirAllInRoot, setOwner, setTimes } from './fs-write.js';
import { resolveInRoot } from './resolve.js';

type TarEntry = TarExtract extends AsyncIterable<infer E> ? E : never;

export interface ExtractOptions {
  /** --chown owner for every entry; null keeps the archive's numeric ids. */
  readonly owner: Owner | null;
  readonly summary: CopySummary;
  /** Shown in errors: the archive's name. */
  readonly archiveName: string;
}

/** Normalise an entry name to a root-relative path, refusing names above the root. */
function entryPath(name: string, archiveName: string): string {
  const normalized = path.posix.normalize(`./${name}`).replace(/\/+$/, '');
  if (normalized === '..' || normalized.startsWith('../')) {
    throw new ArchiveError('ARCHIVE_PATH_ESCAPES', `archive ${archiveName}: entry ${JSON.stringify(name)} is outside the destination`);
  }
  return normalized === '.' ? '' : normalized;
}

export async function extractTar(input: Readable, rootHost: string, options: ExtractOptions): Promise<void> {
  // allowUnknownFormat: old v7 tars have no ustar magic; the header checksum was already validated.
  const extract = tarExtract({ allowUnknownFormat: true } as Parameters<typeof tarExtract>[0]);
  input.on('error', (err) => extract.destroy(err));
  input.pipe(extract);
  // Directory times are set last: creating entries inside them changes them.
  const dirTimes: Array<{ host: string; mtime: Date }> = [];
  try {
    for await (const entry of extract) {
      await extractEntry(entry, rootHost, options, dirTimes);
    }
  } catch (err) {
    if ((err as { userError?: boolean }).userError) throw err;
    throw new ArchiveError('ARCHIVE_CORRUPT', `archive ${options.archiveName}: ${(err as Error).message}`);
  } finally {
    input.destroy();
  }
  for (const { host, mtime } of dirTimes.reverse()) await setTimes(host, mtime, mtime);
}

async function extractEntry(
  entry: TarEntry,
  rootHost: string,
  options: ExtractOptions,
  dirTimes: Array<{ host: string; mtime: Date }>,
): Promise<void> {
  const header = entry.header;
  const rel = entryPath(header.name, options.archiveName);
  const type = header.type ?? 'file';
  if (rel === '' || !isSupported(type)) {
    entry.resume();
    return;
  }
  const parentRel = path.posix.dirname(rel);
  const parent = await mkdirAllInRoot(rootHost, parentRel === '.' ? '/' : parentRel, { mode: 0o755, owner: null });
  const target = path.join(parent.host, path.posix.basename(rel));
  const existing = await lstatOrNull(target);
  if (existing && !(existing.isDirectory() && type === 'directory')) await rm(target, { recursive: true, force: true });

  const mode = (header.mode ?? 0o644) & 0o7777;
  const mtime = header.mtime ?? new Date(0);
  const summary = options.summary;
  switch (type) {
    case 'directory':
      if (!existing?.isDirectory()) await mkdir(target, mode);
      summary.dirs++;
      break;
    case 'file':
    case 'contiguous-file': {
      // O_EXCL|O_NOFOLLOW: the name was just cleared; never write through a link.
      const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
      const handle = await open(target, flags, mode);
      try {
        // tar-stream entries are streamx streams; iterate rather than mix stream flavours in pipeline().
        for await (const chunk of entry) await handle.write(chunk as Uint8Array);
      } finally {
        await handle.close();
      }
      summary.files++;
      summary.bytes += header.size ?? 0;
      break;
    }
    case 'symlink': {
      const linkname = header.linkname ?? '';
      if (!linkname.startsWith('/')) {
        const lexical = path.posix.normalize(path.posix.join(parentRel, linkname));
        if (lexical === '..' || lexical.startsWith('../')) {
          throw new ArchiveError('ARCHIVE_LINK_ESCAPES', `archive ${options.archiveName}: invalid symlink ${JSON.stringify(header.name)} -> ${JSON.stringify(linkname)}`);
        }
      }
      await symlink(linkname, target);
      summary.symlinks++;
      break;
    }
    case 'link': {
      const linkRel = entryPath(header.linkname ?? '', options.archiveName);
      const source = await resolveInRoot(rootHost, linkRel, { followFinal: false });
      const sourceSt = source.exists ? await lstatOrNull(source.host) : null;
      if (!sourceSt || sourceSt.isDirectory()) {
        throw new ArchiveError('ARCHIVE_BAD_HARDLINK', `archive ${options.archiveName}: invalid hardlink ${JSON.stringify(header.name)} -> ${JSON.stringify(header.linkname)}`);
      }
      await link(source.host, target);
      summary.hardlinks++;
      entry.resume();
      return; // a hard link shares the metadata of its target
    }
    default: {
      const kind = type === 'fifo' ? 'p' : type === 'character-device' ? 'c' : 'b';
      await makeNode(target, kind, mode, header.devmajor ?? 0, header.devminor ?? 0);
      summary.specialFiles++;
    }
  }
  entry.resume();

  await setOwner(target, options.owner ?? { uid: header.uid ?? 0, gid: header.gid ?? 0 });
  if (type !== 'symlink') await chmod(target, mode);
  if (type === 'directory') dirTimes.push({ host: target, mtime });
  else await setTimes(target, mtime, mtime);
}

function isSupported(type: string): boolean {
  return ['directory', 'file', 'contiguous-file', 'symlink', 'link', 'fifo', 'character-device', 'block-device'].includes(type);
}
