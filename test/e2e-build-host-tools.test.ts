// End to end: a build with COPY, ADD of an archive (device node, FIFO,
// xattrs), RUN and a cache mount, run under `strace -f -e trace=execve`,
// spawns none of the host tools tsbuild used to lean on (tar, getfattr,
// setfattr, mknod, mount, umount): those jobs are syscalls in the fsop helper.
import { execFileSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TarWriter } from '../cache/tar-writer.js';
import { storeSuite } from './helpers/cli.js';
import { makeContext, ok, readOciTar, scratch } from './e2e-image-helpers.js';
import { runIf } from './helpers/skip.js';

function straceMissing(): string | undefined {
  try {
    execFileSync('strace', ['-V'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'needs strace (scripts/install-system-deps.sh installs it)';
  }
}

const suite = storeSuite('e2e build host tools');
const noStrace = straceMissing();
const it = runIf(noStrace, suite.it);

const FORBIDDEN = new Set(['tar', 'getfattr', 'setfattr', 'mknod', 'mount', 'umount']);

/** Basenames of every program the traced process tree exec'ed. */
function execedPrograms(trace: string): string[] {
  const out: string[] = [];
  for (const m of trace.matchAll(/execve\("([^"]+)"/g)) out.push(path.posix.basename(m[1]!));
  return out;
}

it('a build with COPY, ADD of an archive, RUN and a cache mount spawns no tar, getfattr, setfattr or mount', async (t) => {
  const ctx = await makeContext({ 'src/a.txt': 'a\n', 'src/sub/b.txt': 'b\n' });
  const w = new TarWriter(createWriteStream(path.join(ctx, 'special.tar')));
  await w.add({ name: 'special', type: 'dir', mode: 0o755, mtime: 0 });
  await w.add({ name: 'special/null', type: 'char', mode: 0o666, devmajor: 1, devminor: 3, mtime: 0 });
  await w.add({ name: 'special/pipe', type: 'fifo', mode: 0o600, mtime: 0 });
  await w.add({ name: 'special/f', type: 'file', mode: 0o644, size: 1, mtime: 0, xattrs: new Map([['user.k', Buffer.from([0, 1])]]) }, Buffer.from('f'));
  await w.finish();
  const dockerfile = `FROM busybox:latest
COPY src /src
ADD special.tar /
RUN --mount=type=cache,target=/cache echo run >> /cache/log && cat /cache/log > /ran && rm /etc/os-release
COPY --from=busybox:latest /bin/busybox /copied-busybox
`;
  await writeFile(path.join(ctx, 'Dockerfile'), dockerfile);
  const dir = await scratch('tsbuild-strace-');
  const trace = path.join(dir, 'trace');
  const out = path.join(dir, 'image.tar');
  // strace runs the CLI; the store is the suite's (TSBUILD_ROOT).
  await ok(['build', '--progress=plain', '-o', `type=oci,dest=${out}`, ctx], {
    root: suite.store.root,
    wrap: ['strace', '-f', '-qq', '-e', 'trace=execve', '-o', trace],
  });
  const programs = execedPrograms(await readFile(trace, 'utf8'));
  t.true(programs.includes('tsbuild-sandbox'), `the trace saw the helper: ${[...new Set(programs)].join(' ')}`);
  t.deepEqual(programs.filter((p) => FORBIDDEN.has(p)), []);

  // And the build did what it says: the archive's nodes are in its layer.
  const image = await readOciTar(out);
  const addLayer = image.layers.at(-3)!;
  t.true(addLayer.includes(Buffer.from('special/pipe')), 'the ADD layer carries the FIFO');
  t.true(image.layers.at(-2)!.includes(Buffer.from('.wh.os-release')), 'RUN rm left a whiteout');
});
