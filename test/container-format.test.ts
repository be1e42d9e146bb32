// Scriptable output through the CLI: --format (Go templates, `table`,
// `json`) and --filter for ps, images, history, volume ls, inspect; rmi
// refusing an image a container uses; bad input as one line and exit 125.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { tempDir } from './helpers/temp-dirs.js';
import { containerSuite } from './container-helpers.js';

const s = await containerSuite('tsbuild-format-');

s.e2e('ps --format and --filter (status, name, label, ancestor), -q, -n', async (t) => {
  const up = (await s.cli('run', '-d', '--name', 'alpha', '-l', 'role=api', 'busybox', 'sleep', '300')).stdout.trim();
  await s.cli('tag', 'busybox', 'other:1');
  const done = (await s.cli('run', '--name', 'beta', '-l', 'role=job', 'other:1', 'true')).code;
  t.is(done, 0);
  t.is((await s.cli('ps', '--format', '{{.Names}}')).stdout, 'alpha\n');
  t.is((await s.cli('ps', '-a', '--format', '{{.Names}}:{{.State}}')).stdout, 'beta:exited\nalpha:running\n');
  t.is((await s.cli('ps', '-a', '--filter', 'status=exited', '--format', '{{.Names}}')).stdout, 'beta\n');
  t.is((await s.cli('ps', '-a', '--filter', 'label=role=api', '-q')).stdout, `${up.slice(0, 12)}\n`);
  t.is((await s.cli('ps', '-a', '--filter', 'ancestor=other:1', '--format', '{{.Names}} {{.Image}}')).stdout, 'beta other:1\n');
  t.is((await s.cli('ps', '-a', '--filter', 'name=alp', '--filter', 'name=bet', '--format', '{{.Names}}')).stdout, 'beta\nalpha\n', 'same key: any');
  t.is((await s.cli('ps', '-n', '1', '--format', '{{.Names}}')).stdout, 'beta\n');
  const table = (await s.cli('ps', '-a', '--format', 'table {{.Names}}\\t{{.Labels}}')).stdout;
  t.is(table, 'NAMES     LABELS\nbeta      role=job\nalpha     role=api\n');
  const json = JSON.parse((await s.cli('ps', '--format', '{{json .}}')).stdout) as Record<string, string>;
  t.like(json, { ID: up.slice(0, 12), Names: 'alpha', Image: 'busybox', State: 'running', Labels: 'role=api', Command: '"sleep 300"' });
  const bad = await s.cli('ps', '--format', '{{.Names');
  t.is(bad.code, 1);
  t.is(bad.stdout, '');
  t.regex(bad.stderr, /^ERROR: template: /);
  const unknownFn = await s.cli('ps', '--format', '{{bogus .Names}}');
  t.regex(unknownFn.stderr, /function "bogus" not defined/);
  const badFilter = await s.cli('ps', '--filter', 'color=red');
  t.regex(badFilter.stderr, /invalid filter 'color=red'/);
});

s.e2e('images and history --format / --filter; volume ls --format', async (t) => {
  t.is((await s.cli('images', '--format', '{{.Repository}}:{{.Tag}}', '--filter', 'reference=oth*')).stdout, 'other:1\n');
  t.is((await s.cli('images', '--filter', 'dangling=true', '-q')).stdout, '');
  const rows = (await s.cli('images', '--format', 'table {{.Repository}}\\t{{.Tag}}')).stdout.split('\n');
  t.is(rows[0], 'REPOSITORY   TAG');
  t.true(rows.includes('busybox      latest'));
  const hist = (await s.cli('history', '--format', '{{.ID}}|{{.Size}}|{{.Comment}}', 'busybox')).stdout;
  t.regex(hist, /^[0-9a-f]{12}\|[\d.]+MB\|busybox-static from Debian\n$/);
  const j = JSON.parse((await s.cli('history', '--format', 'json', 'busybox')).stdout) as Record<string, string>;
  t.truthy(j.CreatedSince);
  await s.cli('volume', 'create', 'fmtvol');
  t.is((await s.cli('volume', 'ls', '--format', '{{.Name}}\\t{{.Driver}}')).stdout, 'fmtvol\tlocal\n');
  t.is((await s.cli('volume', 'inspect', '--format', '{{.Name}} {{.Scope}}', 'fmtvol')).stdout, 'fmtvol local\n');
});

s.e2e('rmi refuses an image a container uses unless -f; another tag may go', async (t) => {
  const ctx = await tempDir('tsbuild-rmi-');
  await writeFile(path.join(ctx, 'Dockerfile'), 'FROM busybox\nLABEL only=here\n');
  t.is((await s.cli('build', '-q', '-t', 'solo:1', ctx)).code, 0);
  t.is((await s.cli('run', '--name', 'user-of-solo', 'solo:1', 'true')).code, 0);
  const refused = await s.cli('rmi', 'solo:1');
  t.is(refused.code, 1);
  t.regex(refused.stderr, /^ERROR: conflict: unable to remove repository reference "solo:1" \(must force\) - container [0-9a-f]{12} is using its referenced image [0-9a-f]{12}\n$/);
  await s.cli('tag', 'solo:1', 'spare:1');
  t.is((await s.cli('rmi', 'spare:1')).stdout, 'Untagged: spare:1\n', 'a second name can go: the image stays');
  t.is((await s.cli('rmi', '-f', 'solo:1')).code, 0);
});

s.e2e('bad input: one line, exit 125, never a stack trace', async (t) => {
  const cases: string[][] = [
    ['run', '-v', 'a:b:c:d', 'busybox'],
    ['run', '--mount', 'type=nfs,target=/x', 'busybox'],
    ['run', '--restart', 'sometimes', 'busybox'],
    ['run', '--ulimit', 'nofile=abc', 'busybox'],
    ['run', '--health-interval', 'soon', '--health-cmd', 'true', 'busybox'],
    ['run', '--cap-add', 'NOT-A-CAP', 'busybox'],
    ['run', '--add-host', 'nocolon', 'busybox'],
    ['run', '--pull', 'sometimes', 'busybox'],
    ['run', '--volumes-from', 'no-such-container', 'busybox'],
    ['exec', 'no-such-container', 'true'],
  ];
  for (const args of cases) {
    const r = await s.cli(...args);
    t.is(r.code, 125, args.join(' '));
    t.regex(r.stderr, /^ERROR: [^\n]+\n$/, args.join(' '));
  }
});
