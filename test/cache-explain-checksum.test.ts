// The context checksum's fast walk (synchronous lstat, ignore rules applied
// inline) must select exactly what the generic SourceTree walk selects: same
// checksum and same file list (what explanations diff), with .dockerignore
// patterns, exceptions, excluded dirs with re-included files, --exclude and
// --parents.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BuildContext } from '../builder/context/context.js';
import { checksumSelection, MemoryContentHashCache, type SelectionEntry } from '../builder/context/checksum.js';
import type { SourceTree } from '../builder/fileops/source-tree.js';

const testRoot = mkdtempSync(path.join(os.tmpdir(), 'tsbuild-checksum-walk-'));
test.after.always(() => rmSync(testRoot, { recursive: true, force: true }));
let n = 0;

async function project(): Promise<string> {
  const dir = path.join(testRoot, `p${n++}`);
  const files: Record<string, string> = {
    'a.txt': 'a', 'src/main.ts': 'main', 'src/gen/out.js': 'gen', 'src/gen/keep.js': 'keep',
    'docs/readme.md': 'docs', 'node_modules/x/index.js': 'x', 'node_modules/y/index.js': 'y', 'deep/a/b/c/d.txt': 'd',
  };
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await writeFile(path.join(dir, rel), content);
  }
  await symlink('src/main.ts', path.join(dir, 'link'));
  return dir;
}

// The same context seen through the generic SourceTree interface only.
function generic(ctx: BuildContext): SourceTree {
  return {
    root: ctx.root, description: ctx.description, forceRootOwnership: ctx.forceRootOwnership, refuseEscapingPaths: ctx.refuseEscapingPaths,
    resolve: (p, f) => ctx.resolve(p, f), lstat: (p) => ctx.lstat(p), readdir: (p) => ctx.readdir(p), hostPath: (p) => ctx.hostPath(p),
  };
}

async function both(ignore: string[], patterns: string[], opts: { exclude?: string[]; parents?: boolean } = {}): Promise<{ fast: [string, readonly SelectionEntry[]]; slow: [string, readonly SelectionEntry[]] }> {
  const ctx = await BuildContext.open(await project(), { ignorePatterns: ignore });
  const run = async (tree: SourceTree): Promise<[string, readonly SelectionEntry[]]> => {
    let entries: readonly SelectionEntry[] = [];
    const cache = Object.assign(new MemoryContentHashCache(), { noteSelection: (_: string, e: () => readonly SelectionEntry[]) => { entries = e(); } });
    return [await checksumSelection(tree, patterns, { ...opts, cache }), entries];
  };
  return { fast: await run(ctx), slow: await run(generic(ctx)) };
}

const cases: [string, string[], string[], { exclude?: string[]; parents?: boolean }?][] = [
  ['no ignore file', [], ['.']],
  ['ignored dirs and files', ['node_modules', '*.md', 'docs'], ['.']],
  ['an exception inside an ignored dir', ['src/gen', '!src/gen/keep.js'], ['.']],
  ['exceptions everywhere', ['**/*.js', '!node_modules/y/*.js'], ['.']],
  ['a selected subdirectory', ['src/gen/out.js'], ['src']],
  ['--exclude', [], ['.'], { exclude: ['*.ts', 'deep'] }],
  ['--parents', [], ['src/./gen', 'deep/a/./b'], { parents: true }],
  ['wildcards', ['node_modules/x'], ['node_modules/*', 'a.*']],
];

for (const [title, ignore, patterns, opts] of cases) {
  test(`fast and generic walks agree: ${title}`, async (t) => {
    const { fast, slow } = await both(ignore, patterns, opts);
    t.deepEqual(fast[1].map((e) => e.path), slow[1].map((e) => e.path));
    t.is(fast[0], slow[0]);
  });
}

test('ignored files are not in the list, re-included ones are', async (t) => {
  const { fast } = await both(['src/gen', '!src/gen/keep.js', 'node_modules'], ['.']);
  const paths = fast[1].map((e) => e.path);
  t.true(paths.includes('src/gen/keep.js'));
  t.false(paths.includes('src/gen/out.js'));
  t.false(paths.some((p) => p.startsWith('node_modules')));
  t.is(fast[1].find((e) => e.path === 'link')?.link, 'src/main.ts');
});
