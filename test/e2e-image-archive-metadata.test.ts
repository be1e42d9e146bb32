// End to end: what a tar carries beyond names and bytes (PAX uid/gid above
// the ustar limit, binary xattrs such as security.capability) survives
// `ADD local.tar` and `tsbuild import`, read back from the produced layers
// with the project's tar reader (tar-stream would corrupt binary values).
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { TarReader } from '../cache/tar-reader.js';
import type { TarHeader } from '../cache/tar-format.js';
import { TarWriter } from '../cache/tar-writer.js';
import { storeSuite } from './helpers/cli.js';
import { build, makeContext, ok, readOciTar, scratch } from './e2e-image-helpers.js';

const suite = storeSuite('e2e image archive metadata');
const { it } = suite;

// cap_net_bind_service, permitted + effective (VFS_CAP_REVISION_2): a value the kernel accepts.
const CAPABILITY = Buffer.from('0100000200040000000000000000000000000000', 'hex');
const BINARY = Buffer.from([0x00, 0xff, 0x80, 0x0a, 0xc3]);
const BIG_UID = 3_000_000; // above 07777777: only a PAX record can carry it
const BIG_GID = 3_000_001;

/** A tar with a file that has big ids and binary xattrs, and a dir with a forged overlay xattr. */
async function fixtureTar(file: string): Promise<void> {
  const w = new TarWriter(createWriteStream(file));
  await w.add({ name: 'meta', type: 'dir', mode: 0o755, mtime: 1_600_000_000, xattrs: new Map([['trusted.overlay.opaque', Buffer.from('y')]]) });
  await w.add({
    name: 'meta/bin', type: 'file', mode: 0o755, uid: BIG_UID, gid: BIG_GID, size: 3, mtime: 1_600_000_000,
    xattrs: new Map([['security.capability', CAPABILITY], ['user.blob', BINARY]]),
  }, Buffer.from('bin'));
  await w.finish();
}

async function entriesOf(layer: Buffer): Promise<Map<string, TarHeader>> {
  const reader = new TarReader((async function* () { yield layer; })());
  const out = new Map<string, TarHeader>();
  for (let h; (h = await reader.next()); ) out.set(h.name.replace(/^\.\//, '').replace(/\/$/, ''), h);
  return out;
}

function assertCarried(t: import('ava').ExecutionContext, entries: Map<string, TarHeader>, rewritten: boolean): void {
  const bin = entries.get('meta/bin');
  if (!bin) return void t.fail(`meta/bin missing from the layer: ${[...entries.keys()].join(' ')}`);
  t.is(bin.uid, BIG_UID);
  t.is(bin.gid, BIG_GID);
  t.deepEqual(bin.xattrs.get('security.capability'), CAPABILITY);
  t.deepEqual(bin.xattrs.get('user.blob'), BINARY);
  // A layer we wrote never carries overlay bookkeeping; an imported blob is
  // kept as given (the unpacker ignores it there).
  if (rewritten) t.false(entries.get('meta')?.xattrs.has('trusted.overlay.opaque') ?? true, 'overlay bookkeeping never travels');
}

it('ADD of a local tar keeps PAX uid/gid and binary xattrs in the layer', async (t) => {
  const ctx = await makeContext({});
  await fixtureTar(path.join(ctx, 'meta.tar'));
  const out = path.join(await scratch('tsbuild-out-'), 'image.tar');
  await build(suite.store.root, ctx, 'FROM busybox:latest\nADD meta.tar /\n', ['-o', `type=oci,dest=${out}`]);
  const image = await readOciTar(out);
  assertCarried(t, await entriesOf(image.layers.at(-1)!), true);
});

it('import keeps PAX uid/gid and binary xattrs; a build FROM the imported image sees the ids', async (t) => {
  const dir = await scratch('tsbuild-import-');
  const tarFile = path.join(dir, 'rootfs.tar');
  await fixtureTar(tarFile);
  const root = suite.store.root;
  await ok(['import', tarFile, 'imported-meta:v1'], { root });
  const saved = path.join(dir, 'saved.tar');
  await ok(['save', '--format', 'oci', '-o', saved, 'imported-meta:v1'], { root });
  assertCarried(t, await entriesOf((await readOciTar(saved)).layers[0]!), false);

  // Unpacked as a base (the layer applier sets owners and xattrs), then
  // copied forward by COPY --from: the ids are still the PAX ones.
  const ctx = await makeContext({});
  const out = path.join(await scratch('tsbuild-out-'), 'image.tar');
  await build(root, ctx, 'FROM busybox:latest\nCOPY --from=imported-meta:v1 /meta/bin /copied\nRUN stat -c %u:%g /copied > /owner\n', ['-o', `type=oci,dest=${out}`]);
  const image = await readOciTar(out);
  const copied = (await entriesOf(image.layers.at(-2)!)).get('copied');
  t.is(copied?.uid, BIG_UID);
  t.is(copied?.gid, BIG_GID);
  const owner = (await entriesOf(image.layers.at(-1)!)).get('owner');
  t.truthy(owner);
  const ownerLayer = image.layers.at(-1)!;
  t.true(ownerLayer.includes(Buffer.from(`${BIG_UID}:${BIG_GID}\n`)), 'RUN sees the PAX ids');
});
