// The final image of a build: the target stage's config and history from
// the frontend, the layers from the solver, stored as config + manifest.
import type { ContentStore } from '../../cache/content-store.js';
import type { HistoryEntry, StagePlan } from '../../frontend/graph/types.js';
import { startBuildImage, type StartedImage } from '../image/image.js';
import type { HistoryEntry as OciHistory, ImageLayer } from '../image/types.js';
import type { StepResult } from '../store/step-result.js';

// History as BuildKit's exporter writes it: entries for steps that changed
// nothing become empty_layer; a layer's entry carries the time the layer was
// made (kept in the cache with it, so a fully cached rebuild gives the same
// image); a metadata entry takes the first new layer's time if it comes
// before it (not the base image's), else the time of the layer before it.
export function finalHistory(stage: StagePlan, result: StepResult, base: BaseInfo, now: string, fixedTime = false): OciHistory[] {
  const out: OciHistory[] = [];
  let baseNonEmpty = 0;
  let stepNo = 0;
  let layerNo = base.layerCount;
  stage.history.forEach((h: HistoryEntry & { created?: string }, i) => {
    let empty = h.empty_layer === true;
    let created: string | undefined;
    if (i < base.historyCount) {
      if (!empty) baseNonEmpty++;
      created = h.created;
    } else if (fixedTime) {
      created = now;
    } else if (!empty) {
      empty = !(result.stepAdded[stepNo++] ?? true);
      if (!empty) created = result.layers[layerNo++]?.created;
    }
    const entry: OciHistory = { created_by: h.created_by };
    if (created) entry.created = created;
    if (h.comment) entry.comment = h.comment;
    if (empty) entry.empty_layer = true;
    out.push(entry);
  });
  fillMissingTimes(out, now);
  // An imported base image may lack history: describe its layers so that
  // non-empty entries still match the layers, as the OCI spec expects.
  for (let i = baseNonEmpty; i < base.layerCount; i++) out.unshift({ created: now, created_by: 'layer imported without history', comment: 'tsbuild' });
  return out;
}

function fillMissingTimes(history: OciHistory[], now: string): void {
  // The first time that follows an entry without one; else the last time.
  let fill: string | undefined;
  let gap = false;
  for (const h of history) {
    if (h.created) {
      fill = h.created;
      if (gap) break;
    } else {
      gap = true;
    }
  }
  fill ??= now;
  gap = false;
  for (const h of history) {
    if (h.created) {
      if (gap) fill = h.created;
    } else {
      gap = true;
      h.created = fill;
    }
  }
}

// The image's own time: its newest history entry's.
export function imageCreated(history: OciHistory[], now: string): string {
  return history.reduce<string | undefined>((max, h) => (h.created && (!max || h.created > max) ? h.created : max), undefined) ?? now;
}

// The root image of the target's chain of stages.
export interface BaseInfo {
  layerCount: number;
  historyCount: number;            // entries at the top of stage.history that came from it
  ref?: string;                    // the base image, pinned in the manifest's annotations
  digest?: string;
}

export interface AssembleOptions {
  now: string;                     // ISO time for what has no recorded time
  annotations?: ReadonlyMap<string, string>;  // --annotation: on the image manifest
  epoch?: number;                  // SOURCE_DATE_EPOCH: every new entry and the image get exactly this time
  base: BaseInfo;
}

/** The image of the target's result; its config and manifest blobs are stored in the background (`stored`). */
export function assembleImage(content: ContentStore, stage: StagePlan, result: StepResult, opts: AssembleOptions): StartedImage {
  const layers: ImageLayer[] = result.layers.map((l) => ({ digest: l.blob, diffId: l.diffId, size: l.size, mediaType: l.mediaType }));
  const epochIso = opts.epoch !== undefined ? new Date(opts.epoch * 1000).toISOString() : undefined;
  const history = finalHistory(stage, result, opts.base, epochIso ?? opts.now, epochIso !== undefined);
  return startBuildImage(content, {
    containerConfig: stage.config,
    layers,
    history,
    platform: stage.platform,
    created: epochIso ?? imageCreated(history, opts.now),
    // MAINTAINER sets the image's top-level author field.
    author: (stage as StagePlan & { author?: string }).author,
    // The OCI image spec's base-image annotations pin what was built on.
    annotations: manifestAnnotations(opts),
  });
}

// The OCI image spec's base-image annotations pin what was built on; the
// user's --annotation values come after (and win).
function manifestAnnotations(opts: AssembleOptions): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  if (opts.base.ref && opts.base.digest) {
    out['org.opencontainers.image.base.name'] = opts.base.ref;
    out['org.opencontainers.image.base.digest'] = opts.base.digest;
  }
  for (const [k, v] of opts.annotations ?? []) out[k] = v;
  return Object.keys(out).length > 0 ? out : undefined;
}
