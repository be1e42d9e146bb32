// A COPY that runs again links the files it left unchanged from its
// previous snapshot instead of copying them (builder/fileops/file-reuse.ts).
// What must hold: the re-run's layer and snapshot are the same as a cold
// build's of the same inputs, and the previous snapshot, which now shares
// inodes with the new one, never changes when later steps edit the files.
import { createHash, randomBytes } from 'node:crypto';
import { lstat, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { freshStore, storeSuite } from './helpers/cli.js';
import { build, makeContext, readOciTar, readTar, scratch } from './e2e-image-helpers.js';

const suite = storeSuite('COPY re-run reuses unchanged files');
const it = suite.it;

const DOCKERFILE = `FROM busybox:latest
COPY src /app
COPY src/ /app2/
RUN echo more >> /app/a.txt && chmod 600 /app/sub/c.txt && touch -d @1 /app/run.sh && rm /app/big.bin && cat /app/a.txt > /a-seen
`;

interface Built { diffIds: string[]; layers: Buffer[] }

async function buildImage(root: string, ctx: string): Promise<Built> {
  const out = await scratch('tsbuild-reuse-out-');
  const dest = path.join(out, 'img.tar');
  await build(root, ctx, DOCKERFILE, ['-o', `type=oci,dest=${dest},compression=uncompressed`]);
  const img = await readOciTar(dest);
  return { diffIds: img.config.rootfs.diff_ids, layers: img.layers };
}

function snapshotDir(root: string, diffId: string): string {
  return path.join(root, 'snapshots', diffId.replace(/^sha256:/, '').slice(0, 24));
}

// Everything a snapshot holds that a step could see: names, types, modes,
// owners, sizes, mtimes (to the nanosecond) and bytes.
async function fingerprint(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(rel: string): Promise<void> {
    for (const name of (await readdir(path.join(dir, rel))).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = await lstat(path.join(dir, r), { bigint: true });
      const data = st.isFile() ? createHash('sha256').update(await readFile(path.join(dir, r))).digest('hex') : '';
      out.push([r, st.mode.toString(8), st.uid, st.gid, st.size, st.mtimeNs, data].join(' '));
      if (st.isDirectory()) await walk(r);
    }
  }
  await walk('');
  return out;
}

it('a re-run COPY links unchanged files, its layer is a cold build\'s, and the earlier snapshot stays as it was', async (t) => {
  const root = suite.store.root;
  const ctx = await makeContext({
    'src/a.txt': 'a\n',
    'src/b.txt': 'b\n',
    'src/big.bin': randomBytes(300 * 1024),
    'src/run.sh': { content: '#!/bin/sh\necho hi\n', mode: 0o755 },
    'src/sub/c.txt': 'c\n',
  }, 'tsbuild-reuse-ctx-');
  const first = await buildImage(root, ctx);
  const firstCopy = snapshotDir(root, first.diffIds[1]!);
  const before = await fingerprint(firstCopy);
  const firstCopy2 = snapshotDir(root, first.diffIds[2]!);

  await writeFile(path.join(ctx, 'src/b.txt'), 'b changed\n');
  const second = await buildImage(root, ctx);
  t.not(second.diffIds[1], first.diffIds[1]);
  const secondCopy = snapshotDir(root, second.diffIds[1]!);
  const secondCopy2 = snapshotDir(root, second.diffIds[2]!);

  // Unchanged files were linked, the changed one copied.
  for (const f of ['a.txt', 'big.bin', 'run.sh', 'sub/c.txt']) {
    t.is((await lstat(path.join(secondCopy, 'app', f))).ino, (await lstat(path.join(firstCopy, 'app', f))).ino, `${f} is linked`);
  }
  t.not((await lstat(path.join(secondCopy, 'app/b.txt'))).ino, (await lstat(path.join(firstCopy, 'app/b.txt'))).ino);
  // Also into a destination named with a trailing slash.
  t.is((await lstat(path.join(secondCopy2, 'app2/a.txt'))).ino, (await lstat(path.join(firstCopy2, 'app2/a.txt'))).ino);

  // Both builds' RUN edited /app in place: neither snapshot changed.
  t.deepEqual(await fingerprint(firstCopy), before);
  const seen = (await readTar(second.layers[3]!)).find((e) => e.name === 'a-seen');
  t.is(seen?.data.toString(), 'a\nmore\n');

  // A cold build of the same inputs makes the same layer and snapshot.
  const cold = await freshStore();
  try {
    const fresh = await buildImage(cold.root, ctx);
    for (const i of [1, 2]) {
      t.is(fresh.diffIds[i], second.diffIds[i]);
      t.true(fresh.layers[i]!.equals(second.layers[i]!));
      t.deepEqual(await fingerprint(snapshotDir(cold.root, fresh.diffIds[i]!)), await fingerprint(snapshotDir(root, second.diffIds[i]!)));
    }
  } finally {
    await cold.dispose();
  }
});
