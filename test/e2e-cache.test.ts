// End to end: rebuilds reuse every step they can and explain every step
// they cannot (`#N cache miss: ...` in --progress=plain): a no-op rebuild
// runs nothing; editing, adding, deleting or renaming a selected file re-runs
// exactly the steps from the COPY that selects it; touching a file or
// changing an unselected file re-runs nothing; an in-place edit that keeps
// size and mtime is still seen; a build arg change names the arg.
import test from 'ava';
import { readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { storeSuite } from './helpers/cli.js';
import { build, makeContext } from './e2e-image-helpers.js';

const suite = storeSuite('e2e cache', { serial: true });
const { it } = suite;

// VERSION is declared after the first steps: they cannot see it.
const DOCKERFILE = `FROM busybox:latest
RUN echo base > /base.txt
COPY src/ /app/src/
ARG VERSION=1
RUN echo "v$VERSION" > /app/version && ls /app/src > /app/list
COPY other.txt /app/
`;

interface StepOutcome {
  name: string;
  cached: boolean;
  miss?: string;
}

/** Per step of the plain output: its name, CACHED or not, and its `cache miss:` line. */
function outcomes(stderr: string): StepOutcome[] {
  const byNumber = new Map<string, StepOutcome>();
  for (const line of stderr.split('\n')) {
    const m = /^#(\d+) (.*)$/.exec(line);
    if (!m) continue;
    const [, n, rest] = m;
    const known = byNumber.get(n!);
    if (!known) {
      // buildx's step names: `[2/4] RUN ...` (one stage) or `[name 2/4] RUN ...`; FROM is the base image.
      const step = /^\[[^\]]*\d+\/\d+\] (.*)$/.exec(rest!);
      if (step && !step[1]!.startsWith('FROM ')) byNumber.set(n!, { name: step[1]!, cached: false });
      continue;
    }
    if (rest === 'CACHED') known.cached = true;
    const miss = /^cache miss: (.*)$/.exec(rest!);
    if (miss) known.miss = miss[1];
  }
  return [...byNumber.values()];
}

async function project(): Promise<string> {
  return makeContext({
    'src/main.ts': 'console.log("main");\n',
    'src/util.ts': 'export const x = 1;\n',
    'other.txt': 'other\n',
    'unselected.md': 'not copied by any step\n',
  });
}

async function rebuild(ctx: string, args: string[] = []): Promise<StepOutcome[]> {
  return outcomes((await build(suite.store.root, ctx, DOCKERFILE, args)).stderr);
}

// Step names as displayed (build args expanded), cut to what identifies them.
function ran(steps: StepOutcome[]): string[] {
  return steps.filter((s) => !s.cached).map((s) => s.name.slice(0, 14));
}

function missOf(steps: StepOutcome[], prefix: string): string | undefined {
  return steps.find((s) => s.name.startsWith(prefix))?.miss;
}

// Files edited within the racy window are re-hashed anyway; waiting makes
// the tests exercise the persistent checksum cache as a user's edit would.
async function ageFiles(ctx: string, ...rels: string[]): Promise<void> {
  const old = new Date(Date.now() - 60_000);
  for (const rel of rels) await utimes(path.join(ctx, rel), old, old);
}

it('a first build explains every step as having no cache entry; a no-op rebuild runs nothing', async (t) => {
  const ctx = await project();
  const first = await rebuild(ctx);
  t.is(first.length, 4);
  t.true(first.every((s) => !s.cached && s.miss === 'no cache entry'), JSON.stringify(first));
  const second = await rebuild(ctx);
  t.deepEqual(ran(second), []);
});

it('editing one selected file re-runs the steps from its COPY and names the file', async (t) => {
  const ctx = await project();
  await rebuild(ctx);
  await writeFile(path.join(ctx, 'src/main.ts'), 'console.log("changed");\n');
  const steps = await rebuild(ctx);
  t.deepEqual(ran(steps), ['COPY src/ /app', 'RUN echo "v1" ', 'COPY other.txt']);
  t.is(missOf(steps, 'COPY src/'), 'src/main.ts changed');
  t.is(missOf(steps, 'RUN echo "v'), 'parent step changed');
});

it('adding, deleting and renaming selected files are named', async (t) => {
  const ctx = await project();
  await rebuild(ctx);
  await writeFile(path.join(ctx, 'src/new.ts'), 'new\n');
  t.is(missOf(await rebuild(ctx), 'COPY src/'), 'src/new.ts added');
  await rm(path.join(ctx, 'src/util.ts'));
  t.is(missOf(await rebuild(ctx), 'COPY src/'), 'src/util.ts deleted');
  await rename(path.join(ctx, 'src/new.ts'), path.join(ctx, 'src/renamed.ts'));
  const steps = await rebuild(ctx);
  t.is(missOf(steps, 'COPY src/'), 'src/new.ts renamed to src/renamed.ts');
  t.deepEqual(ran(steps).length, 3);
});

it('touching a file (mtime only) and editing an unselected file keep every step cached', async (t) => {
  const ctx = await project();
  await rebuild(ctx);
  const later = new Date(Date.now() + 5_000);
  await utimes(path.join(ctx, 'src/main.ts'), later, later);
  t.deepEqual(ran(await rebuild(ctx)), []);
  await writeFile(path.join(ctx, 'unselected.md'), 'edited, but no COPY selects me\n');
  t.deepEqual(ran(await rebuild(ctx)), []);
});

it('an in-place edit keeping size and mtime is still seen', async (t) => {
  const ctx = await project();
  const file = path.join(ctx, 'src/util.ts');
  await ageFiles(ctx, 'src/main.ts', 'src/util.ts', 'other.txt');
  await rebuild(ctx);
  // The checksum cache now holds util.ts's hash under its stat identity.
  t.deepEqual(ran(await rebuild(ctx)), []);
  const before = await stat(file);
  const text = await readFile(file, 'utf8');
  await writeFile(file, text.replace('1', '2'));
  await utimes(file, before.atime, before.mtime);
  const after = await stat(file);
  t.is(after.size, before.size);
  t.is(after.mtimeMs, before.mtimeMs);
  const steps = await rebuild(ctx);
  t.is(missOf(steps, 'COPY src/'), 'src/util.ts changed');
});

it('a build arg change is explained and re-runs only the steps that see it', async (t) => {
  const ctx = await project();
  await rebuild(ctx);
  const steps = await rebuild(ctx, ['--build-arg', 'VERSION=2']);
  t.deepEqual(ran(steps), ['RUN echo "v2" ', 'COPY other.txt']);
  t.is(missOf(steps, 'RUN echo "v'), 'build arg VERSION changed');
});

it('--no-cache runs every step and says so', async (t) => {
  const ctx = await project();
  await rebuild(ctx);
  const steps = await rebuild(ctx, ['--no-cache']);
  t.is(ran(steps).length, 4);
  t.true(steps.every((s) => s.miss === '--no-cache'), JSON.stringify(steps));
});

it('an edited RUN command is explained as such', async (t) => {
  const ctx = await project();
  await rebuild(ctx);
  const edited = DOCKERFILE.replace('echo base', 'echo BASE');
  const steps = outcomes((await build(suite.store.root, ctx, edited)).stderr);
  t.is(missOf(steps, 'RUN echo BASE'), 'command changed');
  t.is(missOf(steps, 'COPY src/'), 'parent step changed');
});
