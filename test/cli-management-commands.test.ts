// docker's management-command spellings (`image ls`, `buildx build`,
// `builder prune`, `system df`, ...) run tsbuild's top-level commands, so
// that a script written for docker runs unchanged; `image prune` and
// `system prune` are commands of their own, checked by what is left in the
// store afterwards.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { containerSuite } from './container-helpers.js';
import { makeContext } from './e2e-image-helpers.js';
import { PROJECT_ROOT } from './helpers/paths.js';
import { COMMAND_ALIASES } from '../builder/cli/command-aliases.js';
import test from 'ava';

const s = await containerSuite('tsbuild-mgmt-');

test("the launcher's copy of the spellings is the CLI's", (t) => {
  const launcher = readFileSync(path.join(PROJECT_ROOT, 'bin', 'tsbuild.js'), 'utf8');
  const listed = /^const COMMAND_ALIASES = (\{.*\});$/m.exec(launcher)?.[1];
  t.truthy(listed, 'bin/tsbuild.js names its COMMAND_ALIASES');
  t.deepEqual(JSON.parse(listed!), COMMAND_ALIASES);
});

const ids = async () => (await s.cli('images', '-q', '--no-trunc')).stdout.split('\n').filter(Boolean).sort();
const idOf = async (ref: string) => (await s.cli('inspect', '--type', 'image', '-f', '{{.Id}}', ref)).stdout.trim();

s.e2e('image, builder, buildx and system spellings run the top-level commands', async (t) => {
  const ctx = await makeContext({ Dockerfile: 'FROM busybox\nCOPY a.txt /a.txt\nRUN wc -c /a.txt > /size\n', 'a.txt': 'hello\n' });
  const built = await s.cli('buildx', 'build', '-q', '-t', 'mgmt:1', ctx);
  t.is(built.code, 0, built.stderr);
  const id = built.stdout.trim();
  t.regex(id, /^sha256:[0-9a-f]{64}$/);
  t.is((await s.cli('image', 'build', '-q', '-t', 'mgmt:2', ctx)).stdout.trim(), id);
  t.is((await s.cli('builder', 'build', '-q', '-t', 'mgmt:3', ctx)).stdout.trim(), id);
  t.is((await s.cli('image', 'inspect', '-f', '{{.Id}} {{.Config.Cmd}}', 'mgmt:1')).stdout, `${id} [sh]\n`);
  // Not the CREATED column: two listings may straddle a second.
  const listing = ['--format', '{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}'];
  t.is((await s.cli('image', 'ls', ...listing)).stdout, (await s.cli('images', ...listing)).stdout);
  t.is((await s.cli('image', 'list', '-q')).stdout, (await s.cli('images', '-q')).stdout);
  t.is((await s.cli('image', 'history', '-q', 'mgmt:1')).stdout, (await s.cli('history', '-q', 'mgmt:1')).stdout);
  t.is((await s.cli('image', 'tag', 'mgmt:1', 'mgmt:4')).code, 0);
  t.is(await idOf('mgmt:4'), id);
  t.is((await s.cli('image', 'rm', 'mgmt:4')).stdout, 'Untagged: mgmt:4\n');
  t.is((await s.cli('image', 'remove', 'mgmt:3')).stdout, 'Untagged: mgmt:3\n');
  t.is((await s.cli('system', 'df')).stdout, (await s.cli('du')).stdout);
  t.is((await s.cli('buildx', 'du')).stdout, (await s.cli('du')).stdout);
  t.is((await s.cli('system', 'info')).stdout, (await s.cli('info')).stdout);
  const usage = await s.cli('image');
  t.is(usage.code, 0);
  t.regex(usage.stdout, /^Usage: {2}tsbuild image COMMAND\n[\s\S]*\n {2}build, history, import, inspect, list, load, ls, prune, pull, push, remove, rm, save, tag\n/);
  const bogus = await s.cli('image', 'bogus');
  t.is(bogus.code, 1);
  t.regex(bogus.stderr, /'bogus' is not a tsbuild image command/);
  const pruned = await s.cli('builder', 'prune', '-af');
  t.is(pruned.code, 0, pruned.stderr);
  t.regex(pruned.stdout, /^Deleted build cache: [1-9]\d* cache entries/);
  // The image outlives its cache.
  t.is(await idOf('mgmt:1'), id);
});

s.e2e('image prune forgets dangling images (-a: every image no container uses); system prune also containers and build cache', async (t) => {
  const build = async (text: string, tag: string) => {
    const ctx = await makeContext({ Dockerfile: 'FROM busybox\nCOPY a.txt /a.txt\n', 'a.txt': text });
    const r = await s.cli('build', '-q', '-t', tag, ctx);
    t.is(r.code, 0, r.stderr);
    return r.stdout.trim();
  };
  const busybox = await idOf('busybox');
  // Named images of the test before: kept by a plain prune.
  const before = await ids();
  const dangling = await build('one\n', 'prune:1');
  const current = await build('two\n', 'prune:1');
  const other = await build('three\n', 'other:1');
  t.deepEqual(await ids(), [...new Set([...before, busybox, dangling, current, other])].sort());

  const declined = await s.cli('image', 'prune');
  t.is(declined.code, 0);
  t.regex(declined.stderr, /WARNING! This will remove all dangling images\.\nAre you sure you want to continue\? \[y\/N\]/);
  t.true((await ids()).includes(dangling));

  const pruned = await s.cli('image', 'prune', '-f');
  t.is(pruned.code, 0, pruned.stderr);
  t.regex(pruned.stdout, /^Deleted Images:\ndeleted: sha256:[0-9a-f]{64}\n\nTotal reclaimed space: /);
  t.deepEqual(await ids(), [...new Set([...before, busybox, current, other])].sort());

  // A stopped container keeps its image through -a; the others go with their names.
  t.is((await s.cli('run', '--name', 'keeper', 'busybox', 'true')).code, 0);
  const all = await s.cli('image', 'prune', '-af');
  t.is(all.code, 0, all.stderr);
  t.regex(all.stdout, /untagged: prune:1\n/);
  t.regex(all.stdout, /untagged: other:1\n/);
  t.deepEqual(await ids(), [busybox]);

  const system = await s.cli('system', 'prune', '-af');
  t.is(system.code, 0, system.stderr);
  t.regex(system.stdout, /^Deleted Containers:\n[0-9a-f]{64}\n\nDeleted Images:\nuntagged: busybox:latest\n[\s\S]*\nDeleted build cache: .*\n\nTotal reclaimed space: \S+\n$/);
  t.deepEqual(await ids(), []);
  t.is((await s.cli('ps', '-aq')).stdout, '');

  const remote = await s.cli('-H', 'unix:///nonexistent.sock', 'image', 'prune', '-f');
  t.is(remote.code, 1);
  t.regex(remote.stderr, /"tsbuild image prune" does not run on a server/);
});
