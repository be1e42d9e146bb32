// The copier works on many entries at once and skips per-file calls whose
// outcome it already knows (chmod after copyFile, lchown when created files
// already get the owner). These tests pin what that must never change.
import test from 'ava';
import { chmod, chown, link, lstat, mkdir, readFile, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { BuildContext } from '../builder/context/context.js';
import { copy } from '../builder/fileops/copy.js';
import { emptySummary, TreeCopier } from '../builder/fileops/copy-tree.js';
import { Limiter } from '../builder/concurrency.js';
import { DirectorySource, sortNames, type SourceTree } from '../builder/fileops/source-tree.js';
import { runIf } from './helpers/skip.js';
import { tempDir } from './helpers/temp-dirs.js';

const isRoot = process.getuid?.() === 0;

const T0 = Date.UTC(2003, 4, 5) / 1000;

/**
 * A tree wide and deep enough that many entries are in flight at once:
 * 12 directories (some nested) of 25 files with assorted modes, hard links
 * across directories, and distinct times on every entry.
 */
async function makeWideTree(): Promise<string> {
  const root = await tempDir();
  const modes = [0o644, 0o600, 0o755, 0o666, 0o777, 0o4755, 0o2755, 0o1777, 0o640, 0o444];
  let n = 0;
  for (let d = 0; d < 12; d++) {
    const dir = path.join(root, d % 3 === 2 ? `d${d - 1}/inner${d}` : `d${d}`);
    await mkdir(dir, { recursive: true });
    for (let f = 0; f < 25; f++) {
      const file = path.join(dir, `f${f}`);
      await writeFile(file, `${d}/${f} `.repeat(f * 40));
      await chmod(file, modes[(d + f) % modes.length]!);
    }
  }
  await link(path.join(root, 'd0/f1'), path.join(root, 'd3/hard-a'));
  await link(path.join(root, 'd0/f1'), path.join(root, 'd7/inner8/hard-b'));
  // Times last, deepest first, so a directory's own time is not bumped by its children.
  const all: string[] = [];
  const walk = async (dir: string) => {
    for (const e of await readdir(dir)) {
      const p = path.join(dir, e);
      all.push(p);
      if ((await lstat(p)).isDirectory()) await walk(p);
    }
  };
  await walk(root);
  all.sort((a, b) => b.length - a.length);
  for (const p of all) await utimes(p, T0 + ++n, T0 + 2 * n);
  return root;
}

interface Entry { kind: string; mode: number; mtime: number; size: number; uid: number; gid: number; data?: string; ino: number; nlink: number }

async function listTree(root: string): Promise<Map<string, Entry>> {
  const out = new Map<string, Entry>();
  const walk = async (dir: string, rel: string) => {
    for (const e of await readdir(dir)) {
      const p = path.join(dir, e);
      const r = rel ? `${rel}/${e}` : e;
      const st: Stats = await lstat(p);
      out.set(r, {
        kind: st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other',
        mode: st.mode & 0o7777, mtime: st.mtimeMs, size: st.isFile() ? st.size : 0, uid: st.uid, gid: st.gid,
        data: st.isFile() ? await readFile(p, 'latin1') : undefined, ino: st.ino, nlink: st.nlink,
      });
      if (st.isDirectory()) await walk(p, r);
    }
  };
  await walk(root, '');
  return out;
}

test('a concurrent copy of a wide tree keeps every byte, mode, time and hard link (umask and set-id bits included)', async (t) => {
  const src = await makeWideTree();
  const dest = await tempDir();
  const context = await BuildContext.open(src);
  const result = await copy({ instruction: 'COPY', sources: ['.'], dest: '/app' }, { destRoot: dest, source: context });
  const want = await listTree(src);
  const got = await listTree(path.join(dest, 'app'));
  t.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
  for (const [rel, w] of want) {
    const g = got.get(rel)!;
    t.is(g.kind, w.kind, rel);
    t.is(g.mode, w.mode, `${rel} mode`);
    // Directories too: their times are set once all their children are done.
    t.is(g.mtime, w.mtime, `${rel} mtime`);
    t.is(g.data, w.data, `${rel} data`);
    if (isRoot) t.deepEqual([g.uid, g.gid], [0, 0], `${rel} owner`);
  }
  const linked = ['d0/f1', 'd3/hard-a', 'd7/inner8/hard-b'].map((r) => got.get(r)!);
  t.true(linked.every((e) => e.ino === linked[0]!.ino && e.nlink === 3));
  t.is(result.hardlinks, 2);
  t.is(result.files, 12 * 25);
});

runIf(!isRoot ? 'needs root to chown' : undefined, test)('files created in a setgid directory of another group still end up 0:0 (created owner is learnt, not assumed)', async (t) => {
  const src = await makeWideTree();
  const dest = await tempDir();
  await mkdir(path.join(dest, 'shared'));
  await chown(path.join(dest, 'shared'), 0, 4321);
  await chmod(path.join(dest, 'shared'), 0o2775);
  await copy({ instruction: 'COPY', sources: ['d0', 'd3'], dest: '/shared/' }, { destRoot: dest, source: await BuildContext.open(src) });
  const got = await listTree(path.join(dest, 'shared'));
  t.is(got.size, 26); // d3 replaces the same-named files of d0, plus its hard-a
  for (const [rel, e] of got) t.deepEqual([rel, e.uid, e.gid], [rel, 0, 0]);
  // The merged top directory keeps its own owner and mode.
  const top = await stat(path.join(dest, 'shared'));
  t.deepEqual([top.gid, top.mode & 0o7777], [4321, 0o2775]);
});

runIf(!isRoot ? 'needs root to chown' : undefined, test)('--chown keeps set-id bits (chmod after the chown that cleared them); COPY --from keeps source owners', async (t) => {
  const src = await makeWideTree();
  await chown(path.join(src, 'd1/f4'), 77, 88); // 0o4755 before the chown below clears it
  await chmod(path.join(src, 'd1/f4'), 0o4755);
  const dest = await tempDir();
  await copy({ instruction: 'COPY', sources: ['/d1'], dest: '/c', chown: '1000:1000' }, { destRoot: dest, source: new DirectorySource(src) });
  const suid = await stat(path.join(dest, 'c/f4'));
  t.deepEqual([suid.uid, suid.gid, suid.mode & 0o7777], [1000, 1000, 0o4755]);
  const sgid = await stat(path.join(dest, 'c/f5'));
  t.deepEqual([sgid.uid, sgid.mode & 0o7777], [1000, 0o2755]);

  await copy({ instruction: 'COPY', sources: ['/d1'], dest: '/k' }, { destRoot: dest, source: new DirectorySource(src) });
  const kept = await stat(path.join(dest, 'k/f4'));
  t.deepEqual([kept.uid, kept.gid, kept.mode & 0o7777], [77, 88, 0o4755]);
  const other = await stat(path.join(dest, 'k/f0'));
  t.deepEqual([other.uid, other.gid], [0, 0]);
});

/** A source tree that records how many lstat calls are in flight at once. */
class CountingTree implements SourceTree {
  inFlight = 0;
  peak = 0;
  constructor(private readonly inner: SourceTree) {}
  get root() { return this.inner.root; }
  get description() { return this.inner.description; }
  get forceRootOwnership() { return this.inner.forceRootOwnership; }
  get refuseEscapingPaths() { return this.inner.refuseEscapingPaths; }
  resolve(p: string, followFinal: boolean) { return this.inner.resolve(p, followFinal); }
  readdir(inRoot: string) { return this.inner.readdir(inRoot); }
  hostPath(inRoot: string) { return this.inner.hostPath(inRoot); }
  async lstat(inRoot: string) {
    this.peak = Math.max(this.peak, ++this.inFlight);
    try {
      return await this.inner.lstat(inRoot);
    } finally {
      this.inFlight--;
    }
  }
}

test('entries are copied concurrently, never more than the concurrency at once; 1 is serial', async (t) => {
  const src = await makeWideTree();
  for (const concurrency of [1, 4]) {
    const dest = await tempDir();
    const tree = new CountingTree(new DirectorySource(src));
    const copier = new TreeCopier(tree, { destRoot: dest, owner: null, summary: emptySummary(), concurrency });
    await copier.copy('/', path.join(dest, 'out'));
    t.is(tree.peak, concurrency);
    t.is((await listTree(path.join(dest, 'out'))).size, (await listTree(src)).size);
  }
});

test('the first failure stops the copy; every started entry has settled when it is reported', async (t) => {
  const src = await makeWideTree();
  const dest = await tempDir();
  // A directory where the source has a file: a conflict in the middle of the tree.
  await mkdir(path.join(dest, 'app/d4/f7'), { recursive: true });
  const tree = new CountingTree(new DirectorySource(src));
  const copier = new TreeCopier(tree, { destRoot: dest, owner: null, summary: emptySummary(), concurrency: 8 });
  const err = await t.throwsAsync(copier.copy('/', path.join(dest, 'app')));
  t.is((err as { code?: string }).code, 'COPY_CONFLICT');
  t.regex(err!.message, /d4\/f7/);
  t.is(tree.inFlight, 0);
});

test('Limiter: at most size holders, first come first served, release is idempotent', async (t) => {
  const limiter = new Limiter(2);
  const order: number[] = [];
  const r1 = await limiter.acquire();
  const r2 = await limiter.acquire();
  const waiters = [3, 4, 5].map((n) => limiter.acquire().then((release) => {
    order.push(n);
    return release;
  }));
  await new Promise((r) => setImmediate(r));
  t.deepEqual(order, []);
  r1();
  r1(); // a second call must not free a second slot
  await new Promise((r) => setImmediate(r));
  t.deepEqual(order, [3]);
  r2();
  await new Promise((r) => setImmediate(r));
  t.deepEqual(order, [3, 4]);
  (await waiters[0]!)();
  t.deepEqual(await Promise.all(waiters.slice(1).map(async (w) => { (await w)(); return true; })), [true, true]);
  t.deepEqual(order, [3, 4, 5]);
});

test('sortNames is byte order, astral characters included', (t) => {
  const names = ['b', 'a', 'é', 'z', '\uffff', '😀', 'A', '_', '\ue000', 'a😀', 'a\uffff', 'ab'];
  const byBytes = [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  t.deepEqual(sortNames([...names]), byBytes);
  // In UTF-16 order the astral character would sort before U+E000 and U+FFFF.
  t.true(byBytes.indexOf('😀') > byBytes.indexOf('\uffff'));
  const ascii = ['b', 'B', 'a.txt', 'a', '_x', '10', '9'];
  t.deepEqual(sortNames([...ascii]), [...ascii].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
});
