// The edit hint (builder/cli/edit-hint.ts, bin/tsbuild.js editHint()): a
// local build leaves the lstats of the context files it read; the next
// launch of the same command here that finds one changed builds at once,
// without asking the memo, and says so under TSBUILD_MEMO_DEBUG. A hint
// only ever skips the lookup: every other case is answered as before.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { RACY_MARGIN_MS } from '../cache/checksum-cache.js';
import { EDIT_HINT_MAX_ROWS } from '../builder/cli/edit-hint.js';
import { storeSuite, tsbuild, CLIENT_CACHE, type CliResult } from './helpers/cli.js';
import { makeContext } from './e2e-image-helpers.js';

const suite = storeSuite('edit hint', { serial: true });
const { it } = suite;

const ANSWERED = 'tsbuild: answered from the local memo of an identical build\n';
const HINTED = 'tsbuild: a file changed since the last identical build (edit hint): building\n';
const HINTS = path.join(CLIENT_CACHE, 'tsbuild', 'edit-hints');

const settle = () => new Promise((r) => setTimeout(r, RACY_MARGIN_MS + 200));

async function build(ctx: string, tag: string): Promise<CliResult> {
  const r = await tsbuild(['build', '-q', '-t', tag, ctx], { root: suite.store.root, env: { TSBUILD_MEMO_DEBUG: '1' } });
  if (r.code !== 0) throw new Error(`build failed (${r.code}): ${r.stderr}`);
  return r;
}

async function cat(tag: string, file: string): Promise<string> {
  return (await tsbuild(['run', '--rm', tag, 'cat', file], { root: suite.store.root })).stdout;
}

/** The hint whose key names this context (the launcher's key: [cwd, argv]). */
function hintOf(ctx: string): { file: string; key: string; rows: [string, number, number, number, number][] } | undefined {
  for (const name of readdirSync(HINTS, { withFileTypes: true }).filter((d) => d.isFile())) {
    const file = path.join(HINTS, name.name);
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { key: string; rows: [string, number, number, number, number][] };
    if ((JSON.parse(saved.key) as [string, string[]])[1].includes(ctx)) return { file, ...saved };
  }
  return undefined;
}

it('a build after an edit builds without asking the memo and has the edit; the build after it is answered again', async (t) => {
  const ctx = await makeContext({ Dockerfile: 'FROM busybox:latest\nCOPY app/ /app/\nRUN cat /app/a.txt > /out\n', 'app/a.txt': 'one\n', 'app/b.txt': 'b\n', 'unread.txt': 'x\n' });
  await settle();
  const cold = await build(ctx, 'hint-a');
  t.false(cold.stderr.includes(HINTED), cold.stderr);
  t.true((await build(ctx, 'hint-a')).stderr.includes(ANSWERED), 'the no-op is answered from the memo');
  // The files the build read, not the rest of the context.
  const hint = hintOf(ctx)!;
  t.deepEqual(hint.rows.map((r) => path.relative(ctx, r[0])).sort(), ['app/a.txt', 'app/b.txt']);
  writeFileSync(path.join(ctx, 'app/a.txt'), 'two\n');
  const edited = await build(ctx, 'hint-a');
  t.true(edited.stderr.includes(HINTED), edited.stderr);
  t.false(edited.stderr.includes(ANSWERED));
  t.is(await cat('hint-a', '/out'), 'two\n');
  // Once the edit is old enough for the memo to trust (the edited build
  // itself may have ended too soon after it to record an answer).
  await settle();
  await build(ctx, 'hint-a');
  const again = await build(ctx, 'hint-a');
  t.true(again.stderr.includes(ANSWERED), again.stderr);
  t.false(again.stderr.includes(HINTED));
  t.is(again.stdout, edited.stdout, 'the same image');
});

it('a hint of another key, a malformed one, or one naming a file gone only decides whether the memo is asked', async (t) => {
  const ctx = await makeContext({ Dockerfile: 'FROM busybox:latest\nCOPY a.txt /a.txt\n', 'a.txt': 'a\n' });
  await settle();
  const cold = await build(ctx, 'hint-b');
  const hint = hintOf(ctx)!;
  // Another command's hint under this name (a hash collision): not this build's, ignored.
  writeFileSync(hint.file, JSON.stringify({ key: '["/elsewhere",["build","x"]]', rows: [[path.join(ctx, 'a.txt'), 0, 0, 0, 0]] }));
  const other = await build(ctx, 'hint-b');
  t.true(other.stderr.includes(ANSWERED), other.stderr);
  writeFileSync(hint.file, '{"key": ');
  const malformed = await build(ctx, 'hint-b');
  t.true(malformed.stderr.includes(ANSWERED), malformed.stderr);
  // A row of a file gone: a change, so the build runs (and comes out the same).
  writeFileSync(hint.file, JSON.stringify({ key: hint.key, rows: [...hint.rows, [path.join(ctx, 'gone.txt'), 1, 1, 1, 1]] }));
  const gone = await build(ctx, 'hint-b');
  t.true(gone.stderr.includes(HINTED), gone.stderr);
  t.is(gone.stdout, cold.stdout);
  t.deepEqual(hintOf(ctx)!.rows, hint.rows, 'that build wrote the hint anew');
});

it(`a build that read more than ${EDIT_HINT_MAX_ROWS} files leaves no hint`, async (t) => {
  const files: Record<string, string> = { Dockerfile: 'FROM busybox:latest\nCOPY src/ /src/\n' };
  for (let i = 0; i <= EDIT_HINT_MAX_ROWS; i++) files[`src/f${i}.txt`] = `${i}\n`;
  const ctx = await makeContext(files);
  await build(ctx, 'hint-c');
  t.is(hintOf(ctx), undefined);
  t.is((await cat('hint-c', '/src/f7.txt')), '7\n');
});
