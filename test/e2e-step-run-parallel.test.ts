// End to end: independent stages run their RUN steps at the same time, and a
// failing stage cancels its siblings (their sandboxes are killed, promptly).
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { storeSuite, tempDir, tsbuild } from './helpers/cli.js';
import { makeContext } from './e2e-image-helpers.js';

const suite = storeSuite('e2e RUN parallel', { serial: true });
const { it } = suite;

function context(dockerfile: string): Promise<string> {
  return makeContext({ Dockerfile: dockerfile }, 'e2e-run-ctx-');
}

/** Index in `lines` of the first line matching re (-1 if none). */

/** The plain-progress id (`#N`) of the step whose header matches title. */
function stepId(lines: string[], title: RegExp): string {
  const header = lines.find((l) => /^#\d+ \[/.test(l) && title.test(l));
  if (!header) throw new Error(`no step ${title} in:\n${lines.join('\n')}`);
  return header.split(' ')[0]!;
}

it('two independent stages run their RUN steps at the same time', async (t) => {
  const out = path.join(await tempDir('e2e-run-out-'), 'rootfs');
  // Each step marks its start in a shared cache mount and waits (20 s at
  // most) for the other's mark: only steps running together both see both.
  const id = randomBytes(6).toString('hex');
  const step = (me: string, other: string) => `RUN --mount=type=cache,id=${id},target=/c touch /c/${me}; \\
    i=0; while [ ! -e /c/${other} ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done; \\
    ls /c > /t; date +%s >> /t`;
  const ctx = await context(`FROM busybox:latest AS left
${step('left', 'right')}

FROM busybox:latest AS right
${step('right', 'left')}

FROM busybox:latest
COPY --from=left /t /left
COPY --from=right /t /right
`);
  // rawjson shows the solver's events in the order they happened (the plain
  // writer holds a parallel step's block back until the open one ends).
  const r = await tsbuild(['build', '--progress=rawjson', '-o', `type=local,dest=${out}`, ctx], { root: suite.store.root });
  t.is(r.code, 0, r.stderr);
  // buildx's records: a vertex without `completed` has started, with it it ended.
  const events = r.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { vertexes?: { name: string; completed?: string }[] });
  const at = (type: 'start' | 'done', re: RegExp) => events.findIndex((e) => e.vertexes?.some((v) => re.test(v.name) && (type === 'done') === (v.completed !== undefined)));
  const left = /\[left \d+\/\d+\] RUN/;
  const right = /\[right \d+\/\d+\] RUN/;
  // Event order, not timing: both steps started before either finished.
  const bothStarted = Math.max(at('start', left), at('start', right));
  const firstDone = Math.min(at('done', left), at('done', right));
  t.true(firstDone >= 0 && bothStarted >= 0 && bothStarted < firstDone, r.stderr);
  t.regex(await readFile(path.join(out, 'left'), 'utf8'), /^left\nright\n/, 'left saw right running');
  t.regex(await readFile(path.join(out, 'right'), 'utf8'), /^left\nright\n/, 'right saw left running');
});

/** Live (non-zombie) `sleep <n>` processes. */
async function sleepers(n: string): Promise<number[]> {
  const pids: number[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmd = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (cmd[0] !== 'sleep' || cmd[1] !== n) continue;
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    if (!/^State:\s+Z/m.test(status)) pids.push(Number(pid));
  }
  return pids;
}

it('a failing stage cancels a sibling that is still running: the build ends promptly, the sibling is killed', async (t) => {
  // The failing step waits (20 s at most) until the slow one has started,
  // told through a shared cache mount.
  const id = randomBytes(6).toString('hex');
  const ctx = await context(`FROM busybox:latest AS failing
RUN --mount=type=cache,id=${id},target=/c i=0; while [ ! -e /c/slow-started ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done; \\
    echo failing-now; exit 3

FROM busybox:latest AS slow
RUN --mount=type=cache,id=${id},target=/c touch /c/slow-started; echo slow-started; sleep 43

FROM busybox:latest
COPY --from=failing /etc/passwd /a
COPY --from=slow /etc/passwd /b
`);
  const started = Date.now();
  const r = await tsbuild(['build', '--progress=plain', ctx], { root: suite.store.root });
  const took = Date.now() - started;
  t.not(r.code, 0);
  t.regex(r.stderr, /failing-now/);
  t.regex(r.stderr, /exit code: 3/);
  // The sibling had started, and was cancelled rather than waited for (it sleeps 43 s).
  t.regex(r.stderr, /\d slow-started/);
  const slow = stepId(r.stderr.split('\n'), /\[slow \d+\/\d+\] RUN/);
  t.regex(r.stderr, new RegExp(`^${slow} CANCELED`, 'm'));
  t.true(took < 30000, `the build took ${took} ms`);
  t.deepEqual(await sleepers('43'), [], 'the cancelled step\'s process is gone');
});
