// The build's outputs (-o/--output), as docker buildx names them:
// type=image (the default: the local store), oci, docker, local, tar.
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { mountPointName } from '../snapshots/overlay.js';
import path from 'node:path';
import type { ImageDescription } from '../image/image.js';
import type { CompressionOptions } from '../image/export-prepare.js';
import { familiarName, parseReference } from '../image/reference.js';
import type { ProgressWriter } from '../progress/index.js';
import { UsageError } from '../errors.js';
import type { BuildOptions, OutputSpec } from './options.js';
import type { Store } from '../store/open-store.js';

export async function exportOutputs(store: Store, opts: BuildOptions, image: ImageDescription, progress: ProgressWriter): Promise<void> {
  const outputs = opts.outputs.length > 0 ? opts.outputs : [{ type: 'image', attrs: new Map() } as OutputSpec];
  for (const out of outputs) {
    const task = progress.task(out.type === 'image' || out.type === 'registry' ? 'exporting to image' : `exporting to ${out.type === 'local' ? 'client directory' : `${out.type} image format`}`);
    try {
      await exportOne(store, opts, image, out, task.log.bind(task));
      task.done();
    } catch (err) {
      task.fail(err);
      throw err;
    }
  }
}

function namesOf(opts: BuildOptions, out: OutputSpec): string[] {
  const extra = out.attrs.get('name')?.split(',').filter(Boolean) ?? [];
  return [...opts.tags, ...extra];
}

function compressionOf(out: OutputSpec): CompressionOptions {
  const c = out.attrs.get('compression');
  if (c !== undefined && c !== 'gzip' && c !== 'uncompressed') throw new UsageError(`unsupported compression "${c}" (gzip or uncompressed)`);
  const level = out.attrs.get('compression-level');
  return { compression: c as CompressionOptions['compression'], compressionLevel: level === undefined ? undefined : Number(level) };
}

function destOf(out: OutputSpec): string {
  const dest = out.attrs.get('dest');
  if (!dest) throw new UsageError(`--output type=${out.type} needs dest=<path>`);
  return dest;
}

async function exportOne(store: Store, opts: BuildOptions, image: ImageDescription, out: OutputSpec, log: (l: string) => void): Promise<void> {
  switch (out.type) {
    case 'image': {
      if (out.attrs.get('push') === 'true') return exportOne(store, opts, image, { type: 'registry', attrs: out.attrs }, log);
      await store.images.add(image.manifestDigest);
      log(`writing image ${image.configDigest} done`);
      for (const name of namesOf(opts, out)) {
        const full = await store.images.tag(name, image.manifestDigest);
        log(`naming to ${full} done`);
      }
      return;
    }
    case 'oci':
    case 'docker': {
      const names = namesOf(opts, out).map((n) => familiarName(parseReference(n)));
      const dest = destOf(out);
      const target = dest === '-' ? process.stdout : dest;
      // Exporters load on demand: the default output (the local store) needs none of them.
      const { exportOciTar, exportOciDir } = await import('../image/export-oci.js');
      const { exportDockerArchive } = await import('../image/export-docker.js');
      const exportFn = out.type === 'oci' ? exportOciTar : exportDockerArchive;
      if (out.type === 'oci' && out.attrs.get('tar') === 'false') await exportOciDir(store.content, { manifestDigest: image.manifestDigest, names }, dest, compressionOf(out));
      else await exportFn(store.content, { manifestDigest: image.manifestDigest, names }, target, compressionOf(out));
      log(`exporting ${out.type} image to ${dest} done`);
      return;
    }
    case 'local':
    case 'tar': {
      const dest = destOf(out);
      if (out.type === 'local') {
        await mkdir(dest, { recursive: true });
        await unpackImage(store, image, dest);
      } else {
        const tmp = path.join(store.paths.state, mountPointName('rootfs'));
        await mkdir(tmp, { recursive: true });
        try {
          await unpackImage(store, image, tmp);
          const { tarFromDir } = await import('../../cache/layer-diff.js');
          await tarFromDir(tmp, dest === '-' ? process.stdout : createWriteStream(dest), {});
        } finally {
          await rm(tmp, { recursive: true, force: true });
        }
      }
      log(`copying files to ${dest} done`);
      return;
    }
    case 'registry': {
      const names = namesOf(opts, out);
      if (names.length === 0) throw new UsageError('tag is needed when pushing to registry (use -t NAME:TAG or --output type=registry,name=NAME:TAG)');
      await store.images.add(image.manifestDigest);
      const { pushImage, loadRegistrySettings } = await import('../registry/index.js');
      const settings = await loadRegistrySettings(store.paths.root);
      for (const name of names) {
        await store.images.tag(name, image.manifestDigest);
        const pushed = await pushImage(store.content, store.images, image.manifestDigest, name, { settings });
        log(`pushing ${pushed.ref}@${pushed.digest} done`);
      }
      return;
    }
  }
}

// The image's final filesystem: every layer applied in order, whiteouts honoured.
async function unpackImage(store: Store, image: ImageDescription, dest: string): Promise<void> {
  const { applyLayer } = await import('../../cache/layer-unpack.js');
  for (const layer of image.layers) await applyLayer(store.content.openRead(layer.digest), dest);
}
