/**
 * Safe extraction of a tar stream into a directory for ADD, with the
 * semantics of moby's chrootarchive.Untar: the extraction directory acts as
 * the root (absolute symlink targets inside the archive resolve under it),
 * entries naming a path above it are refused, relative symlinks and hard
 * links pointing above it are refused, existing entries are replaced (and
 * directories merged). Every parent is resolved with the in-root resolver, so
 * neither a symlink planted earlier in the archive nor one already in the
 * image can redirect a write outside. Whiteout files are NOT interpreted: an
 * ADDed archive is content, not a layer. The archive is read with the
 * project's one tar reader, so PAX uid/gid/mtime and binary xattrs
 * (`security.capability`, ...) arrive intact.
 */
import { chmod, link, mkdir, open, rm, symlink } from 'node:fs/promises';
import { constants } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { TarHeader } from '../../cache/tar-format.js';
import { TarReader } from '../../cache/tar-reader.js';
import { isPortableXattr, writeXattrs } from '../../cache/xattrs.js';
import type { Owner } from './chown.js';
import type { CopySummary } from './copy-tree.js';
import { ArchiveError } from './errors.js';
import { canChangeOwner, lstatOrNull, makeNode, mkdirAllInRoot, setOwner, setTimes } from './fs-write.js';
import { resolveInRoot } from './resolve.js';

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
  // Directory times are set last: creating entries inside them changes them.
  const dirTimes: Array<{ host: string; mtime: Date }> = [];
  try {
    const reader = new TarReader(input);
    for (let header; (header = await reader.next()); ) {
      await extractEntry(header, reader, rootHost, options, dirTimes);
    }
  } catch (err) {
    if ((err as { userError?: boolean; code?: string }).userError && (err as { code?: string }).code !== 'CORRUPT_TAR') throw err;
    throw new ArchiveError('ARCHIVE_CORRUPT', `archive ${options.archiveName}: ${(err as Error).message}`);
  } finally {
    input.destroy();
  }
  for (const { host, mtime } of dirTimes.reverse()) await setTimes(host, mtime, mtime);
}

async function extractEntry(
  header: TarHeader,
  reader: TarReader,
  rootHost: string,
  options: ExtractOptions,
  dirTimes: Array<{ host: string; mtime: Date }>,
): Promise<void> {
  const rel = entryPath(header.name, options.archiveName);
  const type = header.type;
  if (rel === '') return;
  const parentRel = path.posix.dirname(rel);
  const parent = await mkdirAllInRoot(rootHost, parentRel === '.' ? '/' : parentRel, { mode: 0o755, owner: null });
  const name = path.posix.basename(rel);
  const target = path.join(parent.host, name);
  const existing = await lstatOrNull(target);
  if (existing && !(existing.isDirectory() && type === 'dir')) await rm(target, { recursive: true, force: true });

  const mode = header.mode & 0o7777;
  const mtime = new Date(header.mtime * 1000);
  const summary = options.summary;
  switch (type) {
    case 'dir':
      if (!existing?.isDirectory()) await mkdir(target, mode);
      summary.dirs++;
      break;
    case 'file': {
      // O_EXCL|O_NOFOLLOW: the name was just cleared; never write through a link.
      const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
      const handle = await open(target, flags, mode);
      try {
        for await (const chunk of reader.body()) await handle.write(chunk);
      } finally {
        await handle.close();
      }
      summary.files++;
      summary.bytes += header.size;
      break;
    }
    case 'symlink': {
      const linkname = header.linkname;
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
      const linkRel = entryPath(header.linkname, options.archiveName);
      const source = await resolveInRoot(rootHost, linkRel, { followFinal: false });
      const sourceSt = source.exists ? await lstatOrNull(source.host) : null;
      if (!sourceSt || sourceSt.isDirectory()) {
        throw new ArchiveError('ARCHIVE_BAD_HARDLINK', `archive ${options.archiveName}: invalid hardlink ${JSON.stringify(header.name)} -> ${JSON.stringify(header.linkname)}`);
      }
      await link(source.host, target);
      summary.hardlinks++;
      return; // a hard link shares the metadata of its target
    }
    default: {
      const kind = type === 'fifo' ? 'p' : type === 'char' ? 'c' : 'b';
      await makeNode(target, kind, mode, header.devmajor, header.devminor);
      summary.specialFiles++;
    }
  }

  await setOwner(target, options.owner ?? { uid: header.uid, gid: header.gid });
  if (type !== 'symlink') await chmod(target, mode);
  // After the owner: chown clears security.capability.
  await writeXattrs(parent.host, [[name, portableXattrs(header.xattrs, type === 'symlink')]]);
  if (type === 'dir') dirTimes.push({ host: target, mtime });
  else await setTimes(target, mtime, mtime);
}

// As when unpacking a layer: overlay bookkeeping and host labels never
// travel, and only root may set anything outside the user namespace. The
// kernel refuses user.* on symlinks; GNU tar skips those as well.
function portableXattrs(xattrs: ReadonlyMap<string, Buffer>, symlink: boolean): Map<string, Buffer> {
  return new Map([...xattrs].filter(([name]) => isPortableXattr(name)
    && (canChangeOwner || name.startsWith('user.')) && !(symlink && name.startsWith('user.'))));
}
