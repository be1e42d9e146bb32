// Shared pieces of the end-to-end image tests: a build context written
// inline, a `tsbuild build` that fails loudly, and readers for the tars the
// exporters write (OCI layout, docker-archive, layer tars), so each test can
// look inside what the real CLI produced.
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import tar from 'tar-stream';
import { tsbuild, tempDir, type CliResult } from './helpers/cli.js';

export type ContextEntry = string | Buffer | { content: string | Buffer; mode?: number } | { symlink: string } | { dir: true };

/** A temp dir removed when the test file is done. */
export function scratch(prefix = 'tsbuild-e2e-'): Promise<string> {
  return tempDir(prefix);
}

/** Writes `files` (relative path → entry) into a new temp dir and returns it. */
export async function makeContext(files: Record<string, ContextEntry>, prefix = 'tsbuild-e2e-'): Promise<string> {
  const dir = await scratch(prefix);
  await writeContext(dir, files);
  return dir;
}

export async function writeContext(dir: string, files: Record<string, ContextEntry>): Promise<void> {
  for (const [rel, entry] of Object.entries(files)) {
    const p = path.join(dir, rel);
    await mkdir(path.dirname(p), { recursive: true });
    if (typeof entry === 'string' || Buffer.isBuffer(entry)) await writeFile(p, entry);
    else if ('symlink' in entry) await symlink(entry.symlink, p);
    else if ('dir' in entry) await mkdir(p, { recursive: true });
    else await writeFile(p, entry.content, { mode: entry.mode ?? 0o644 });
  }
}

export class CliFailure extends Error {
  constructor(args: string[], r: CliResult) {
    super(`tsbuild ${args.join(' ')} exited ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  }
}

/** Runs the CLI and throws (with its output) unless it exited 0. */
export async function ok(args: string[], opts: Parameters<typeof tsbuild>[1]): Promise<CliResult> {
  const r = await tsbuild(args, opts);
  if (r.code !== 0) throw new CliFailure(args, r);
  return r;
}

/** `tsbuild build --progress=plain ARGS CTX` with Dockerfile text from `dockerfile`, written into ctx. */
export async function build(root: string, ctx: string, dockerfile: string, args: string[] = [], env?: NodeJS.ProcessEnv): Promise<CliResult> {
  await writeFile(path.join(ctx, 'Dockerfile'), dockerfile);
  return ok(['build', '--progress=plain', ...args, ctx], { root, env });
}

export interface TarEntry {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  linkname?: string;
  data: Buffer;
  pax?: Record<string, string>;
}

/** Every entry of a tar (gzip is detected), names without a leading `./`. */
export async function readTar(buf: Buffer): Promise<TarEntry[]> {
  const bytes = buf[0] === 0x1f && buf[1] === 0x8b ? gunzipSync(buf) : buf;
  const extract = tar.extract();
  const entries: TarEntry[] = [];
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (h, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => {
        chunks.push(c as Buffer);
      });
      stream.on('end', () => {
        entries.push({
          name: h.name.replace(/^\.\//, ''),
          type: h.type ?? 'file',
          mode: (h.mode ?? 0) & 0o7777,
          uid: h.uid ?? 0,
          gid: h.gid ?? 0,
          mtime: h.mtime ? Math.floor(h.mtime.getTime() / 1000) : 0,
          linkname: h.linkname ?? undefined,
          data: Buffer.concat(chunks),
          pax: h.pax as Record<string, string> | undefined,
        });
        next();
      });
      stream.on('error', reject);
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  extract.end(bytes);
  await done;
  return entries;
}

export function sha256(buf: Buffer): string {
  return 'sha256:' + createHash('sha256').update(buf).digest('hex');
}

export interface ExportedImage {
  manifest: { config: { digest: string }; layers: { digest: string; mediaType: string; size: number }[] };
  config: {
    created?: string;
    config?: Record<string, unknown>;
    rootfs: { diff_ids: string[] };
    history?: { created?: string; created_by?: string; empty_layer?: boolean; comment?: string }[];
  };
  configDigest: string;
  /** Uncompressed bytes of each layer, in order. */
  layers: Buffer[];
  /** Compressed (as stored) bytes of each layer, in order. */
  layerBlobs: Buffer[];
  files: Map<string, Buffer>;
}

/** Reads an OCI layout tar (type=oci or tsbuild save --format oci): the first manifest of index.json. */
export async function readOciTar(file: string): Promise<ExportedImage> {
  const entries = await readTar(await readFile(file));
  const files = new Map(entries.filter((e) => e.type === 'file').map((e) => [e.name, e.data]));
  const blob = (d: string): Buffer => {
    const b = files.get(`blobs/${d.replace(':', '/')}`);
    if (!b) throw new Error(`blob ${d} missing from ${file}`);
    return b;
  };
  const index = JSON.parse(files.get('index.json')!.toString());
  let manifest = JSON.parse(blob(index.manifests[0].digest).toString());
  if (manifest.manifests) manifest = JSON.parse(blob(manifest.manifests[0].digest).toString()); // nested index
  const configDigest = manifest.config.digest as string;
  const config = JSON.parse(blob(configDigest).toString());
  const layerBlobs = (manifest.layers as { digest: string }[]).map((l) => blob(l.digest));
  const layers = layerBlobs.map((b) => (b[0] === 0x1f && b[1] === 0x8b ? gunzipSync(b) : b));
  return { manifest, config, configDigest, layers, layerBlobs, files };
}

/** Entries of every layer of an exported image, layer by layer. */
export async function layerEntries(img: ExportedImage): Promise<TarEntry[][]> {
  return Promise.all(img.layers.map((l) => readTar(l)));
}
