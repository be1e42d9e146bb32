// Volumes and mounts through the CLI: a single-file bind, named volumes
// (kept in the store, surviving rm, reused), the image's VOLUME as an
// anonymous volume filled from the image, --mount, --tmpfs, --volumes-from,
// and the volume commands.
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { tempDir } from './helpers/temp-dirs.js';
import { containerSuite } from './container-helpers.js';

const s = await containerSuite('tsbuild-vol-');

s.e2e('-v FILE:FILE[:ro] binds one file; a missing host dir is created', async (t) => {
  const host = await tempDir('tsbuild-vol-host-');
  const file = path.join(host, 'app.conf');
  await writeFile(file, 'setting=1\n');
  const r = await s.cli('run', '--rm', '-v', `${file}:/etc/app.conf`, 'busybox', 'sh', '-c', 'cat /etc/app.conf; echo setting=2 > /etc/app.conf');
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'setting=1\n');
  t.is(await readFile(file, 'utf8'), 'setting=2\n', 'written through to the host file');
  const ro = await s.cli('run', '--rm', '-v', `${file}:/etc/app.conf:ro`, 'busybox', 'sh', '-c', 'echo x > /etc/app.conf');
  t.is(ro.code, 1);
  t.regex(ro.stderr, /Read-only file system/);
  const fresh = path.join(host, 'made/by/run');
  t.is((await s.cli('run', '--rm', '-v', `${fresh}:/out`, 'busybox', 'touch', '/out/x')).code, 0);
  t.true(existsSync(path.join(fresh, 'x')));
});

s.e2e('a named volume survives rm and is reused; volume ls/inspect/rm; in use is refused', async (t) => {
  t.is((await s.cli('volume', 'create', '--label', 'app=db', 'dbdata')).stdout, 'dbdata\n');
  t.is((await s.cli('run', '--name', 'writer', '-v', 'dbdata:/var/lib/db', 'busybox', 'sh', '-c', 'echo row1 >> /var/lib/db/table')).code, 0);
  t.is((await s.cli('rm', 'writer')).code, 0);
  const again = await s.cli('run', '--rm', '-v', 'dbdata:/var/lib/db', 'busybox', 'sh', '-c', 'echo row2 >> /var/lib/db/table; cat /var/lib/db/table');
  t.is(again.stdout, 'row1\nrow2\n');
  t.is((await s.cli('volume', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Labels}}', '--filter', 'label=app=db')).stdout, 'dbdata local app=db\n');
  const info = JSON.parse((await s.cli('volume', 'inspect', 'dbdata')).stdout) as Record<string, unknown>[];
  t.like(info[0], { Name: 'dbdata', Driver: 'local', Scope: 'local', Labels: { app: 'db' }, Mountpoint: path.join(s.root, 'volumes/dbdata/_data') });
  await s.cli('run', '-d', '--name', 'holder', '--mount', 'type=volume,source=dbdata,target=/db,readonly', 'busybox', 'sleep', '300');
  t.is((await s.cli('exec', 'holder', 'cat', '/db/table')).stdout, 'row1\nrow2\n');
  const refused = await s.cli('volume', 'rm', 'dbdata');
  t.is(refused.code, 1);
  t.regex(refused.stderr, /volume is in use/);
  const [mount] = JSON.parse((await s.cli('inspect', '-f', '{{json .Mounts}}', 'holder')).stdout) as Record<string, unknown>[];
  t.like(mount, { Type: 'volume', Name: 'dbdata', Destination: '/db', RW: false });
  await s.cli('rm', '-f', 'holder');
  t.is((await s.cli('volume', 'rm', 'dbdata')).code, 0);
  t.is((await s.cli('volume', 'ls', '-q')).stdout, '');
});

s.e2e("the image's VOLUME: an anonymous volume filled from the image, shared with --volumes-from, removed with rm -v", async (t) => {
  const ctx = await tempDir('tsbuild-vol-ctx-');
  await mkdir(ctx, { recursive: true });
  await writeFile(path.join(ctx, 'Dockerfile'), 'FROM busybox\nRUN mkdir -p /data && echo seeded > /data/seed\nVOLUME /data\nCMD ["sleep", "300"]\n');
  t.is((await s.cli('build', '-q', '-t', 'with-volume', ctx)).code, 0);
  const r = await s.cli('run', '-d', '--name', 'vol-owner', 'with-volume');
  t.is(r.code, 0, r.stderr);
  const [mount] = JSON.parse((await s.cli('inspect', '-f', '{{json .Mounts}}', 'vol-owner')).stdout) as { Name: string; Source: string; Type: string }[];
  t.is(mount!.Type, 'volume');
  t.regex(mount!.Name, /^[0-9a-f]{64}$/);
  t.is(await readFile(path.join(mount!.Source, 'seed'), 'utf8'), 'seeded\n', 'filled with the image content');
  await s.cli('exec', 'vol-owner', 'sh', '-c', 'echo shared > /data/note');
  const other = await s.cli('run', '--rm', '--volumes-from', 'vol-owner:ro', 'busybox', 'sh', '-c', 'cat /data/seed /data/note; touch /data/x');
  t.is(other.stdout, 'seeded\nshared\n');
  t.regex(other.stderr, /Read-only/);
  t.true((await s.cli('volume', 'ls', '-q')).stdout.includes(mount!.Name));
  t.is((await s.cli('rm', '-f', '-v', 'vol-owner')).code, 0);
  t.false(existsSync(mount!.Source), 'rm -v removed the anonymous volume');
  const rmRun = await s.cli('run', '--rm', '-v', '/scratch', 'busybox', 'sh', '-c', 'touch /scratch/x');
  t.is(rmRun.code, 0);
  t.is((await s.cli('volume', 'ls', '-q')).stdout, '', 'run --rm takes its anonymous volumes along');
});

s.e2e('--tmpfs and --mount type=tmpfs|bind', async (t) => {
  const host = await tempDir('tsbuild-vol-bind-');
  await writeFile(path.join(host, 'in.txt'), 'bound\n');
  const r = await s.cli('run', '--rm', '--tmpfs', '/scratch:size=1m', '--mount', `type=bind,source=${host},target=/h,readonly`, '--mount', 'type=tmpfs,target=/t',
    'busybox', 'sh', '-c', 'grep -E " /(scratch|t) " /proc/mounts | cut -d" " -f1-3 | sort; cat /h/in.txt');
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'tmpfs /scratch tmpfs\ntmpfs /t tmpfs\nbound\n');
});
