// An output of the build (-o/--output), as docker buildx names them. Each
// type is one peer module: `resolve` checks its attributes BEFORE the solve
// (a typo in -o must not cost a build), `export` writes the built image.
import type { Writable } from 'node:stream';
import type { ImageDescription } from '../image/image.js';
import type { Store } from '../store/open-store.js';
import type { AttachFn } from '../image/oci-layout.js';

/** The -o types, here rather than beside the exporters: the CLI checks a flag without loading them. */
export const OUTPUT_TYPES = ['image', 'oci', 'docker', 'local', 'tar', 'registry'] as const;
export type OutputType = (typeof OUTPUT_TYPES)[number];

export interface OutputSpec {
  type: OutputType;
  attrs: Map<string, string>;
}

/** What the exporters of tar-like outputs may ask of the build's caller. */
export interface ExportIO {
  /** A sub-line of the export's progress task. */
  log(line: string): void;
  /**
   * Where a tar-like output goes when it is not a file of this host (dest=-,
   * or a server streaming it to its client); undefined: the file named by dest.
   */
  openOutput?(dest: string, kind: 'oci' | 'docker' | 'tar'): Promise<Writable | undefined>;
  /**
   * Set when attestations were asked for (--provenance, --attest): outputs
   * that carry an index (oci, docker, registry) wrap the image with them.
   */
  attach?: AttachFn;
  /**
   * Settles once the image's blobs (its last layers, config and manifest)
   * are durable and in the store. Only an exporter that says it may start
   * sooner (startsBeforeBlobs) is called before; it must not let anything
   * refer to them before this settles.
   */
  blobsWritten?: Promise<void>;
}

/** The manifest a registry now serves for the image (its layers compressed: not the local digest). */
export interface PushedManifest {
  digest: string;
  size: number;
  mediaType: string;
}

export interface Exporter {
  readonly type: OutputType;
  /** The progress task shown while it runs (`exporting to image`). */
  readonly taskName: string;
  /** It may be called while the image's blobs are still being written (see ExportIO.blobsWritten). */
  readonly startsBeforeBlobs?: boolean;
  /** Resolves to what it pushed, for outputs that push. */
  export(image: ImageDescription, store: Store, io: ExportIO): Promise<{ pushed?: PushedManifest } | void>;
}

export interface ResolveContext {
  /** The build's tags (-t): outputs that name the image use them. */
  tags: readonly string[];
}

export type ExporterFactory = (attrs: ReadonlyMap<string, string>, ctx: ResolveContext) => Exporter;
