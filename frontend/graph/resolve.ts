// Base images and images read with COPY --from / --mount from=: resolved
// through the builder's callback, once per reference and platform, in
// parallel, and only for stages the build needs.
import { InvalidBaseImagePlatform } from '../checks/rules.js';
import type { Linter } from '../checks/linter.js';
import { DockerfileError } from '../errors.js';
import { addDependencies, checkCycles, reachableStages, type StageNode } from './stages.js';
import { inheritedTriggers } from './onbuild.js';
import { toSourceLocation } from './location.js';
import { formatPlatform } from './platform.js';
import type { BaseImage, Location, Platform, ResolveImage } from './types.js';

export class ImageResolver {
  private readonly cache = new Map<string, Promise<BaseImage>>();
  /** Images read by COPY --from / --mount from=, by normalized reference. */
  readonly sourceImages = new Map<string, BaseImage>();

  constructor(
    private readonly resolve: ResolveImage,
    private readonly targetPlatform: Platform,
  ) {}

  /** @throws DockerfileError at `loc` when the resolver reports a user error (not found, denied, ...). */
  async image(ref: string, platform: Platform, loc: Location): Promise<BaseImage> {
    const key = `${ref}\0${formatPlatform(platform)}`;
    let pending = this.cache.get(key);
    if (!pending) {
      pending = this.resolve(ref, platform);
      this.cache.set(key, pending);
    }
    try {
      return await pending;
    } catch (e) {
      if (e instanceof DockerfileError) throw e.atLocation(toSourceLocation(loc));
      if (e instanceof Error && (e as { userError?: unknown }).userError === true) {
        throw new DockerfileError('BASE_IMAGE', `failed to resolve ${ref}: ${e.message}`, toSourceLocation(loc));
      }
      throw e;
    }
  }

  async resolveNode(node: StageNode, lint: Linter): Promise<void> {
    const jobs: Promise<unknown>[] = [];
    if (node.base.kind === 'image' && !node.baseImage) {
      const ref = node.base.ref.normalized;
      jobs.push(
        this.image(ref, node.platform, node.loc).then((image) => {
          node.baseImage = image;
          checkImagePlatform(node, image, lint);
        }),
      );
    }
    for (const [ref, dep] of node.imageDeps) {
      if (this.sourceImages.has(ref)) continue;
      // BuildKit resolves these for the target platform, not the stage's.
      jobs.push(this.image(ref, this.targetPlatform, dep.loc).then((image) => void this.sourceImages.set(ref, image)));
    }
    await Promise.all(jobs);
  }
}

function checkImagePlatform(node: StageNode, image: BaseImage, lint: Linter): void {
  const want = node.platform;
  const got = image.platform;
  if (want.os !== got.os || want.architecture !== got.architecture) {
    lint.forComments(node.stage.from.comments).run(InvalidBaseImagePlatform, node.loc, node.baseName, formatPlatform(want), formatPlatform(got));
  }
}

/**
 * BuildKit's resolveStages: resolve what the target needs, then add the
 * ONBUILD triggers those bases carry; a trigger may read another stage
 * (`ONBUILD COPY --from=x`), which can make more stages needed, so repeat
 * until nothing new appears.
 */
export async function resolveStages(
  nodes: readonly StageNode[],
  target: StageNode,
  allStages: boolean,
  resolver: ImageResolver,
  lint: Linter,
  escape: '\\' | '`',
): Promise<Set<StageNode>> {
  for (;;) {
    const needed = allStages ? new Set(nodes) : reachableStages(target);
    await Promise.all([...needed].map((n) => resolver.resolveNode(n, lint)));
    let newDeps = false;
    for (const node of [...needed].sort((a, b) => a.index - b.index)) {
      if (node.triggersLoaded) continue;
      node.triggersLoaded = true;
      const triggers = inheritedTriggers(node);
      if (triggers.length === 0) continue;
      node.commands = [...triggers, ...node.commands];
      if (addDependencies(node, triggers, nodes, escape)) newDeps = true;
    }
    if (!newDeps) return needed;
    checkCycles(nodes);
  }
}
