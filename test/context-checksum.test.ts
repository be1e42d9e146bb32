import test from 'ava';
import { createHash } from 'node:crypto';
import { chmod, mkdir, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BuildContext } from '../builder/context/context.js';
import { checksumSelection, MemoryContentHashCache } from '../builder/context/checksum.js';
import { tempDir } from './helpers/temp-dirs.js';

async function context(): Promise<string> {
  const dir = await tempDir('ctx-sum-');
  await mkdir(path.join(dir, 'src/lib'), { recursive: true });
  await writeFile(path.join(dir, 'src/main.ts'), 'main');
  await writeFile(path.join(dir, 'src/lib/util.ts'), 'util');
  await writeFile(path.join(dir, 'README.md'), 'readme');
  await writeFile(path.join(dir, 'ignored.log'), 'log');
  await writeFile(path.join(dir, '.dockerignore'), '*.log\n');
  await symlink('main.ts', path.join(dir, 'src/link'));
  return dir;
}

test('checksumSelection ignores mtimes but sees content, mode, links and names', async (t) => {
  const dir = await context();
  const sum = async () => checksumSelection(await BuildContext.open(dir), ['src']);
  const first = await sum();
  t.regex(first, /^sha256:[0-9a-f]{64}$/);
  await utimes(path.join(dir, 'src/main.ts'), new Date(1000), new Date(1000));
  t.is(await sum(), first, 'touching a file keeps the checksum');
  await writeFile(path.join(dir, 'src/main.ts'), 'changed');
  const changed = await sum();
  t.not(changed, first);
  await chmod(path.join(dir, 'src/main.ts'), 0o755);
  const moded = await sum();
  t.not(moded, changed);
  await writeFile(path.join(dir, 'src/new.ts'), '');
  t.not(await sum(), moded);
});

test('checksumSelection covers only the selection and respects .dockerignore and --exclude', async (t) => {
  const dir = await context();
  const ctx = await BuildContext.open(dir);
  const srcOnly = await checksumSelection(ctx, ['src']);
  await writeFile(path.join(dir, 'README.md'), 'other readme');
  await writeFile(path.join(dir, 'ignored.log'), 'other log');
  t.is(await checksumSelection(await BuildContext.open(dir), ['src']), srcOnly);
  const all = await checksumSelection(await BuildContext.open(dir), ['.']);
  await writeFile(path.join(dir, 'ignored.log'), 'yet another log');
  t.is(await checksumSelection(await BuildContext.open(dir), ['.']), all, 'ignored files never count');
  const excluded = await checksumSelection(await BuildContext.open(dir), ['src'], { exclude: ['lib'] });
  await writeFile(path.join(dir, 'src/lib/util.ts'), 'changed util');
  t.is(await checksumSelection(await BuildContext.open(dir), ['src'], { exclude: ['lib'] }), excluded);
  t.not(await checksumSelection(await BuildContext.open(dir), ['src']), srcOnly);
});

test('checksumSelection: wildcards, missing sources, and the stat cache', async (t) => {
  const dir = await context();
  const ctx = await BuildContext.open(dir);
  const cache = new MemoryContentHashCache();
  const a = await checksumSelection(ctx, ['src/*.ts'], { cache });
  t.is(cache.size, 1); // only src/main.ts matches
  t.is(await checksumSelection(ctx, ['src/*.ts'], { cache }), a);
  t.not(await checksumSelection(ctx, ['*.md']), a);
  const err = await t.throwsAsync(checksumSelection(ctx, ['nope']));
  t.is((err as unknown as { code: string }).code, 'SOURCE_NOT_FOUND');
  // A wildcard matching nothing is allowed, like COPY.
  t.regex(await checksumSelection(ctx, ['*.none']), /^sha256:/);
});

test('checksumSelection hashes every file size the same way: empty, small (read at once) and big (streamed)', async (t) => {
  const dir = await tempDir('ctx-sum-');
  const sizes = [0, 1, 8192, 256 * 1024, 256 * 1024 + 1, 3 * 1024 * 1024 + 7];
  const bytes = new Map<string, Buffer>();
  for (const n of sizes) {
    const data = Buffer.alloc(n, n % 251);
    bytes.set(path.join(dir, `f${n}`), data);
    await writeFile(path.join(dir, `f${n}`), data);
  }
  const ctx = await BuildContext.open(dir);
  const seen = new Map<string, string>();
  const cache = new MemoryContentHashCache();
  const recording = Object.assign(cache, {
    set: (host: string, key: Parameters<MemoryContentHashCache['set']>[1], digest: string) => {
      seen.set(host, digest);
      MemoryContentHashCache.prototype.set.call(cache, host, key, digest);
    },
  });
  await checksumSelection(ctx, ['.'], { cache: recording });
  t.is(seen.size, sizes.length);
  for (const [host, data] of bytes) t.is(seen.get(host), `sha256:${createHash('sha256').update(data).digest('hex')}`, host);
});

// The checksums a COPY's cache key holds: pinned, so that a faster way of
// making them can never change them (every cached step would miss, and
// worse, two versions would disagree about one store's keys).
test('selection checksums of names that need JSON escapes, symlinks and modes are the ones earlier versions made', async (t) => {
  const dir = await tempDir('ctx-sum-golden-');
  const files: Record<string, string | Buffer> = {
    'a.txt': 'a\n', 'quote"d.txt': 'q\n', 'back\\slash': 'b\n', 'tab\there': 't\n', 'é/ü.txt': 'u\n',
    'emoji\u{1F600}.txt': 'e\n', 'sub/deeper/x.bin': Buffer.from([0, 1, 2]),
  };
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await writeFile(path.join(dir, rel), content);
    await chmod(path.join(dir, rel), rel === 'a.txt' ? 0o755 : 0o644);
  }
  for (const d of ['é', 'sub', 'sub/deeper']) await chmod(path.join(dir, d), 0o755);
  await chmod(dir, 0o755);
  await symlink('target "with" quotes', path.join(dir, 'link1'));
  await symlink('sub/deeper/x.bin', path.join(dir, 'link2'));
  const ctx = await BuildContext.open(dir);
  t.is(await checksumSelection(ctx, ['.']), 'sha256:31c32e07f89d2b802a6e9bfecfbc90c604113c20a8fbad38bfec3ffc442f0525');
  t.is(await checksumSelection(ctx, ['sub', 'a.txt']), 'sha256:79c0f0fd6e6bd69ad06f8f0dfface4cc9ca44b3f057a167047242e322df2a258');
  t.is(await checksumSelection(ctx, ['*.txt']), 'sha256:a085b90629c93adc86fe73603a85172518e85aa81790a1d21887960e98ec4566');
});
