/**
 * Extended attributes through the `getfattr` / `setfattr` tools (Debian
 * package `attr`), because Node has no xattr API. We run ONE process per
 * layer: a recursive dump when archiving, a `--restore` batch when
 * unpacking, never one process per file.
 */
import { spawn } from 'node:child_process';
import { CacheError, oneLine } from './errors.js';

export type Xattrs = Map<string, Buffer>;

/** xattrs that must never travel in a layer, whichever direction. */
export function isPortableXattr(name: string): boolean {
  // overlayfs bookkeeping belongs to the mount that made it; a layer that
  // carried it could forge opaque dirs or redirects in our overlay mounts.
  if (name.startsWith('trusted.overlay.')) return false;
  // The host's SELinux label says nothing about the image.
  if (name === 'security.selinux') return false;
  return true;
}

/**
 * All xattrs under `root`, keyed by path relative to root ('' = root),
 * symlinks not followed. Files without xattrs are absent from the map.
 */
export async function readXattrTree(root: string): Promise<Map<string, Xattrs>> {
  const out = await run('getfattr', ['-h', '-R', '-P', '-d', '-m', '-', '-e', 'hex', '--absolute-names', '.'], root);
  return parseDump(out);
}

/** Sets xattrs on paths relative to root (symlinks themselves, not followed). */
export async function writeXattrs(root: string, items: Iterable<[string, Xattrs]>): Promise<void> {
  const parts: Buffer[] = [];
  for (const [rel, attrs] of items) {
    if (attrs.size === 0) continue;
    parts.push(Buffer.from('# file: '), quote(Buffer.from(rel === '' ? '.' : './' + rel)), Buffer.from('\n'));
    for (const [name, value] of attrs) {
      parts.push(quote(Buffer.from(name)), Buffer.from(`=0x${value.toString('hex')}\n`));
    }
    parts.push(Buffer.from('\n'));
  }
  if (parts.length === 0) return;
  await run('setfattr', ['-h', '--restore=-'], root, Buffer.concat(parts));
}

/** Parses `getfattr -d -e hex` output. Exported for tests. */
export function parseDump(dump: Buffer): Map<string, Xattrs> {
  const result = new Map<string, Xattrs>();
  let current: Xattrs | undefined;
  // latin1 keeps every byte as one char, so quoted names survive the split.
  for (const line of dump.toString('latin1').split('\n')) {
    if (line.startsWith('# file: ')) {
      const rel = unquote(line.slice('# file: '.length)).toString('utf8');
      current = new Map();
      result.set(rel === '.' ? '' : rel.replace(/^\.\//, ''), current);
      continue;
    }
    if (line === '' || line.startsWith('#') || !current) continue;
    const eq = line.indexOf('=');
    const name = unquote(eq < 0 ? line : line.slice(0, eq)).toString('utf8');
    const raw = eq < 0 ? '' : line.slice(eq + 1);
    current.set(name, decodeValue(raw));
  }
  for (const [rel, attrs] of result) if (attrs.size === 0) result.delete(rel);
  return result;
}

function decodeValue(raw: string): Buffer {
  if (raw.startsWith('0x')) return Buffer.from(raw.slice(2), 'hex');
  if (raw.startsWith('0s')) return Buffer.from(raw.slice(2), 'base64');
  if (raw.startsWith('"') && raw.endsWith('"')) return unquote(raw.slice(1, -1));
  return Buffer.from(raw, 'latin1');
}

/** attr's quoting: every byte outside printable ASCII, and '\', as \ooo. */
function quote(b: Buffer): Buffer {
  let s = '';
  for (const c of b) {
    s += c > 0x20 && c < 0x7f && c !== 0x5c && c !== 0x3d ? String.fromCharCode(c) : '\\' + c.toString(8).padStart(3, '0');
  }
  return Buffer.from(s, 'latin1');
}

function unquote(s: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\' && /^[0-7]{3}$/.test(s.slice(i + 1, i + 4))) {
      bytes.push(parseInt(s.slice(i + 1, i + 4), 8));
      i += 3;
    } else {
      bytes.push(s.charCodeAt(i) & 0xff);
    }
  }
  return Buffer.from(bytes);
}

function run(cmd: string, args: string[], cwd: string, input?: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(e.code === 'ENOENT'
        ? new CacheError('XATTR_TOOL_FAILED', `${cmd} not found: install the 'attr' package (apt-get install attr)`)
        : e);
    });
    child.on('close', (code) => {
      if (code === 0) return resolve(Buffer.concat(out));
      const msg = oneLine(Buffer.concat(err).toString('utf8')).slice(0, 300);
      reject(new CacheError('XATTR_TOOL_FAILED', `${cmd} failed in ${cwd} (exit ${code}): ${msg}`));
    });
    if (input) {
      child.stdin!.on('error', () => { /* reported through the exit code */ });
      child.stdin!.end(input);
    }
  });
}
