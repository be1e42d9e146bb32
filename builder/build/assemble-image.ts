// The final image of a build: the target stage's config and history from
// the frontend, the layers from the solver, stored as config + manifest.
import type { ContentStore } from '../../cache/content-store.js';
import type { HistoryEntry, StagePlan } from '../../frontend/graph/types.js';
import { buildImage, type ImageDescription } from '../image/image.js';
import type { HistoryEntry as OciHistory, ImageLayer } from '../image/types.js';
import type { StepResult } from './step-result.js';

// History as BuildKit's exporter writes it: entries for steps that changed
// nothing become empty_layer, and every entry gets the build's timestamp.
export function finalHistory(stage: StagePlan, result: StepResult, base: BaseInfo, created: string): OciHistory[] {
  const out: OciHistory[] = [];
  let baseNonEmpty = 0;
  let stepNo = 0;
  stage.history.forEach((h: HistoryEntry & { created?: string }, i) => {
    const entry: OciHistory = { created: h.created ?? created, created_by: h.created_by };
    if (h.comment) entry.comment = h.comment;
    let empty = h.empty_layer === true;
    if (i < base.historyCount) {
      if (!empty) baseNonEmpty++;
    } else if (!empty) {
      empty = !(result.stepAdded[stepNo++] ?? true);
    }
    if (empty) entry.empty_layer = true;
    out.push(entry);
  });
  // An imported base image may lack history: describe its layers so that
  // non-empty entries still match the layers, as the OCI spec expects.
  for (let i = baseNonEmpty; i < base.layerCount; i++) out.unshift({ created, created_by: 'layer imported without history', comment: 'tsbuild' });
  return out;
}

// The root image of the target's chain of stages.
export interface BaseInfo {
  layerCount: number;
  historyCount: number;            // entries at the top of stage.history that came from it
  ref?: string;                    // the base image, pinned in the manifest's annotations
  digest?: string;
}

export interface AssembleOptions {
  created: string;                 // ISO time: SOURCE_DATE_EPOCH or now
  base: BaseInfo;
}

export async function assembleImage(content: ContentStore, stage: StagePlan, result: StepResult, opts: AssembleOptions): Promise<ImageDescription> {
  const layers: ImageLayer[] = result.layers.map((l) => ({ digest: l.blob, diffId: l.diffId, size: l.size, mediaType: l.mediaType }));
  return buildImage(content, {
    containerConfig: stage.config as never,
    layers,
    history: finalHistory(stage, result, opts.base, opts.created),
    platform: stage.platform,
    created: opts.created,
    // MAINTAINER sets the image's top-level author field.
    author: (stage as StagePlan & { author?: string }).author,
    // The OCI image spec's base-image annotations pin what was built on.
    annotations: opts.base.ref && opts.base.digest
      ? { 'org.opencontainers.image.base.name': opts.base.ref, 'org.opencontainers.image.base.digest': opts.base.digest }
      : undefined,
  });
}
