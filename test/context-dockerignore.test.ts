import test from 'ava';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BuildContext } from '../builder/context/context.js';
import { loadIgnoreFile, parseIgnoreFile } from '../builder/patterns/dockerignore.js';
import { PatternMatcher } from '../builder/patterns/pattern-matcher.js';
import { tempDir } from './helpers/temp-dirs.js';

async function tree(files: Record<string, string>): Promise<string> {
  const dir = await tempDir('ctx-ignore-');
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(dir, name);
    await mkdir(path.dirname(file), { recursive: true });
    if (name.endsWith('/')) await mkdir(file, { recursive: true });
    else await writeFile(file, content);
  }
  return dir;
}

test('parseIgnoreFile: comments, whitespace, cleaning, leading slash, exceptions', (t) => {
  const text = [
    '\uFEFF# a comment',
    '',
    '   ',
    '  node_modules  ',
    ' # not a comment: only column 0 counts',
    '/build/',
    './dist//x/../y',
    '!  keep.txt',
    '!/abs/keep',
    '*.log',
  ].join('\n');
  t.deepEqual(parseIgnoreFile(text), ['node_modules', '# not a comment: only column 0 counts', 'build', 'dist/y', '!keep.txt', '!abs/keep', '*.log']);
});

const matchCases: Array<[string[], string, boolean]> = [
  [['*.log'], 'a.log', true],
  [['*.log'], 'dir/a.log', false], // * does not cross directories
  [['**/*.log'], 'dir/sub/a.log', true],
  [['**/*.log'], 'a.log', true], // ** matches zero dirs
  [['dir/**'], 'dir/x/y', true],
  [['dir/**'], 'dir', false],
  [['a/**/b'], 'a/b', true],
  [['a/**/b'], 'a/x/y/b', true],
  [['a?c'], 'abc', true],
  [['a?c'], 'a/c', false],
  [['[a-c]at'], 'bat', true],
  [['[a-c]at'], 'dat', false],
  [['[^a]at'], 'bat', true],
  [['\\*star'], '*star', true],
  [['\\*star'], 'xstar', false],
  [['file.txt'], 'file.txt', true],
  [['file.txt'], 'fileXtxt', false], // . is literal
  [['build'], 'build/out/app.js', true], // parent directory match
  [['/build'], 'build/x', true], // leading slash ignored
  [['*', '!keep'], 'keep', false],
  [['*', '!keep'], 'other', true],
  [['!keep', '*'], 'keep', true], // later rules win
  [['docs', '!docs/README.md'], 'docs/README.md', false],
  [['docs', '!docs/README.md'], 'docs/other.md', true],
  [['**/node_modules'], 'a/b/node_modules/x/y.js', true],
];

for (const [patterns, p, expected] of matchCases) {
  test(`PatternMatcher ${JSON.stringify(patterns)} ${expected ? 'matches' : 'does not match'} ${p}`, (t) => {
    t.is(new PatternMatcher(patterns).matches(p), expected);
  });
}

test('PatternMatcher: a lone "!" is a user error', (t) => {
  const err = t.throws(() => new PatternMatcher(['!']));
  t.is((err as unknown as { code: string }).code, 'INVALID_IGNORE_PATTERN');
});

test('BuildContext.list: sorted walk with ignore rules and exceptions inside excluded dirs', async (t) => {
  const dir = await tree({
    '.dockerignore': 'docs\n!docs/keep.md\nnode_modules\n*.tmp\n',
    'Dockerfile': 'FROM scratch',
    'b.txt': 'b',
    'a.tmp': 'x',
    'docs/keep.md': 'k',
    'docs/drop.md': 'd',
    'node_modules/pkg/index.js': 'x',
    'src/z.ts': 'z',
    'src/a.ts': 'a',
  });
  const ctx = await BuildContext.open(dir);
  t.is(ctx.ignoreFile, path.join(dir, '.dockerignore'));
  const listed = (await ctx.list()).map((e) => `${e.type}:${e.path}`);
  t.deepEqual(listed, [
    'file:.dockerignore',
    'file:Dockerfile',
    'file:b.txt',
    'dir:docs', // excluded, but present because an exception re-includes a file inside
    'file:docs/keep.md',
    'dir:src',
    'file:src/a.ts',
    'file:src/z.ts',
  ]);
  t.is(await ctx.stat('docs/drop.md'), null);
  t.is(await ctx.stat('node_modules'), null);
  t.truthy(await ctx.stat('docs/keep.md'));
  t.deepEqual(await ctx.readdir('/docs'), ['keep.md']);
});

test('BuildContext: wildcard exceptions force a walk of excluded directories', async (t) => {
  const dir = await tree({ 'vendor/a/keep.go': '', 'vendor/a/x.c': '', 'vendor/b/y.c': '' });
  const ctx = await BuildContext.open(dir, { ignorePatterns: ['vendor', '!vendor/**/*.go'] });
  t.deepEqual(
    (await ctx.list()).map((e) => e.path),
    ['vendor', 'vendor/a', 'vendor/a/keep.go'],
  );
});

test('BuildContext: the Dockerfile and .dockerignore can themselves be ignored (BuildKit sends the Dockerfile separately)', async (t) => {
  const dir = await tree({ '.dockerignore': 'Dockerfile\n.dockerignore\n', 'Dockerfile': 'FROM scratch', 'app': 'x' });
  const ctx = await BuildContext.open(dir);
  t.deepEqual((await ctx.list()).map((e) => e.path), ['app']);
});

test('Dockerfile-specific ignore file takes precedence over .dockerignore', async (t) => {
  const dir = await tree({
    '.dockerignore': 'a.txt\n',
    'build/app.Dockerfile': 'FROM scratch',
    'build/app.Dockerfile.dockerignore': 'b.txt\n',
    'a.txt': 'a',
    'b.txt': 'b',
  });
  const specific = await loadIgnoreFile(dir, path.join(dir, 'build/app.Dockerfile'));
  t.is(specific.file, path.join(dir, 'build/app.Dockerfile.dockerignore'));
  t.deepEqual(specific.patterns, ['b.txt']);
  const ctx = await BuildContext.open(dir, { dockerfilePath: path.join(dir, 'build/app.Dockerfile') });
  t.truthy(await ctx.stat('a.txt'));
  t.is(await ctx.stat('b.txt'), null);
  // Without a specific file, .dockerignore applies.
  const plain = await BuildContext.open(dir, { dockerfilePath: path.join(dir, 'Dockerfile') });
  t.is(plain.ignoreFile, path.join(dir, '.dockerignore'));
  t.is(await plain.stat('a.txt'), null);
});

test('BuildContext.open: symlinks are listed as symlinks and followed only inside the context', async (t) => {
  const outside = await tempDir('ctx-outside-');
  await writeFile(path.join(outside, 'secret'), 'host secret');
  const dir = await tree({ 'real.txt': 'inside', 'etc/passwd': 'context passwd' });
  await symlink('real.txt', path.join(dir, 'ok-link'));
  await symlink(path.join(outside, 'secret'), path.join(dir, 'abs-out'));
  await symlink('/etc/passwd', path.join(dir, 'abs-in'));
  await symlink(`../${path.basename(outside)}/secret`, path.join(dir, 'rel-out'));
  const ctx = await BuildContext.open(dir);
  const entries = await ctx.list();
  t.is(entries.find((e) => e.path === 'abs-out')?.linkTarget, path.join(outside, 'secret'));
  const read = async (p: string): Promise<string> => {
    let s = '';
    for await (const c of await ctx.open(p)) s += c.toString();
    return s;
  };
  t.is(await read('ok-link'), 'inside');
  // "/etc/passwd" means the context's own etc/passwd, never the host's.
  t.is(await read('abs-in'), 'context passwd');
  const err1 = await t.throwsAsync(read('abs-out'));
  t.is((err1 as unknown as { code: string }).code, 'SOURCE_NOT_FOUND');
  const err2 = await t.throwsAsync(read('rel-out'));
  t.is((err2 as unknown as { code: string }).code, 'SOURCE_NOT_FOUND');
  t.regex(err2!.message, /symlink resolved inside the build context/);
});

test('BuildContext: entries of clean and ignored directories are decided alike by readdir, lstat and list', async (t) => {
  const dir = await tree({
    'src/a.ts': '', 'src/a.log': '', 'src/deep/b.log': '', 'src/deep/keep.log': '', 'src/deep/c.ts': '',
    'build/out.js': '', 'build/keep/x.js': '', 'lib/gen/y.js': '', 'lib/z.js': '',
  });
  const ctx = await BuildContext.open(dir, { ignorePatterns: ['**/*.log', '!src/deep/keep.log', 'build', '!build/keep', 'lib/gen'] });
  t.deepEqual(await ctx.readdir('/src'), ['a.ts', 'deep']);
  t.deepEqual(await ctx.readdir('/src/deep'), ['c.ts', 'keep.log']);
  t.deepEqual(await ctx.readdir('/lib'), ['z.js']);
  t.deepEqual(await ctx.readdir('/build'), ['keep']);
  // After readdir decided, lstat agrees (it reads the same remembered answer).
  t.is(await ctx.lstat('/src/a.log'), null);
  t.is(await ctx.lstat('/src/deep/b.log'), null);
  t.truthy(await ctx.lstat('/src/deep/keep.log'));
  t.is(await ctx.lstat('/build/out.js'), null);
  t.is(await ctx.lstat('/lib/gen/y.js'), null);
  t.deepEqual((await ctx.list()).map((e) => e.path), [
    'build', 'build/keep', 'build/keep/x.js', 'lib', 'lib/z.js', 'src', 'src/a.ts', 'src/deep', 'src/deep/c.ts', 'src/deep/keep.log',
  ]);
  // A fresh context, asked by lstat first (no readdir), gives the same answers.
  const fresh = await BuildContext.open(dir, { ignorePatterns: ['**/*.log', '!src/deep/keep.log', 'build', '!build/keep', 'lib/gen'] });
  t.is(await fresh.lstat('/src/deep/b.log'), null);
  t.truthy(await fresh.lstat('/src/deep/keep.log'));
  t.is(await fresh.lstat('/lib/gen/y.js'), null);
  t.truthy(await fresh.lstat('/build/keep/x.js'));
  // Paths that are not in normal form are normalised before they are looked at.
  t.truthy(await fresh.lstat('/src/./deep/../deep/keep.log'));
  t.is(await fresh.lstat('//src//deep/b.log'), null);
  t.is(fresh.hostPath('/src/../src/a.ts'), path.join(dir, 'src/a.ts'));
  t.is(fresh.hostPath('/src/a.ts'), path.join(dir, 'src/a.ts'));
  t.is(fresh.hostPath('/'), dir);
});
