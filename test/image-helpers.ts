// Shared fixtures for the image tests: small layer tars made in memory and
// a two-layer image built from them in a fresh store.

import path from 'node:path';
import tar from 'tar-stream';
import { ContentStore } from '../cache/content-store.js';
import { digestOf } from '../cache/digest.js';
import { buildImage, type ImageDescription } from '../builder/image/image.js';
import { ImageStore } from '../builder/image/store.js';
import { MediaType, type ImageLayer } from '../builder/image/types.js';
import { tempDir } from './helpers/temp-dirs.js';

export interface FileSpec {
  name: string;
  content?: string | Buffer;
  type?: 'file' | 'directory' | 'symlink';
  linkname?: string;
  mode?: number;
}

/** A temp dir removed when the test file is done. */
export { tempDir };

/** A tar of `files`, fully buffered. */
export async function makeTar(files: FileSpec[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack) chunks.push(Buffer.from(c as Uint8Array));
  })();
  for (const f of files) {
    const type = f.type ?? 'file';
    const header = { name: f.name, type, mode: f.mode ?? (type === 'directory' ? 0o755 : 0o644), mtime: new Date(0), uid: 0, gid: 0 };
    if (type === 'file') pack.entry({ ...header, size: Buffer.byteLength(f.content ?? '') }, f.content ?? '');
    else pack.entry({ ...header, linkname: f.linkname ?? '' });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export async function uncompressedLayer(store: ContentStore, files: FileSpec[]): Promise<ImageLayer> {
  const bytes = await makeTar(files);
  const digest = await store.putBuffer(bytes);
  return { digest, diffId: digestOf(bytes), size: bytes.length, mediaType: MediaType.ociLayer };
}

export interface Fixture {
  root: string;
  store: ContentStore;
  images: ImageStore;
  image: ImageDescription;
}

/** A store holding a two-layer image with one metadata-only history step. */
export async function fixture(): Promise<Fixture> {
  const root = await tempDir();
  const store = new ContentStore(path.join(root, 'content'));
  const images = new ImageStore(root, store);
  const l1 = await uncompressedLayer(store, [
    { name: 'etc/', type: 'directory' },
    { name: 'etc/hello.txt', content: 'hello from layer one\n' },
    { name: 'bin/', type: 'directory' },
  ]);
  const l2 = await uncompressedLayer(store, [
    { name: 'app/', type: 'directory' },
    { name: 'app/run.sh', content: '#!/bin/sh\necho run\n', mode: 0o755 },
    { name: 'app/link', type: 'symlink', linkname: 'run.sh' },
  ]);
  const image = await buildImage(store, {
    containerConfig: { Env: ['PATH=/usr/bin:/bin'], Cmd: ['/app/run.sh'], WorkingDir: '/app', Labels: { 'org.example': 'yes' } },
    layers: [l1, l2],
    history: [
      { created: '2024-01-01T00:00:00Z', created_by: 'COPY etc /etc' },
      { created: '2024-01-01T00:00:00Z', created_by: 'ENV FOO=bar', empty_layer: true },
      { created: '2024-01-01T00:00:00Z', created_by: 'COPY app /app' },
    ],
    platform: { os: 'linux', architecture: 'amd64' },
    created: '2024-01-01T00:00:00Z',
  });
  return { root, store, images, image };
}
