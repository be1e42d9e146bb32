// What a build records about itself in its provenance attestation, and the
// exporters' hook that wraps the exported image with it (see
// attestations/). Undefined when no attestation was asked for: then no
// output changes at all.
import type { ContentStore } from '../../cache/content-store.js';
import type { BaseImage, BuildGraph, FileSource } from '../../frontend/graph/types.js';
import { attachStatements } from '../attestations/attach.js';
import { provenanceStatement, SLSA_V02_PREDICATE, type ProvenanceFacts } from '../attestations/provenance.js';
import { platformOf } from '../image/image.js';
import type { AttachFn } from '../image/oci-layout.js';
import type { BuildOptions } from './options.js';

/** The images the target was made from: every stage's FROM, and those COPY --from or RUN --mount from= read, by digest. */
function materialsOf(graph: BuildGraph): ProvenanceFacts['materials'] {
  const images: BaseImage[] = [];
  for (const stage of graph.stages) {
    if (stage.base.type === 'image') images.push(stage.base.image);
    for (const step of stage.steps) {
      const sources: Array<FileSource | undefined> = step.kind === 'copy' ? [step.from] : step.kind === 'run' ? step.mounts.map((m) => m.from) : [];
      for (const from of sources) if (from?.type === 'image') images.push(from.image);
    }
  }
  return images.map((i) => ({ ref: i.ref, digest: i.digest, platform: i.platform }));
}

export function provenanceAttacher(store: ContentStore, opts: BuildOptions, graph: BuildGraph, startedOn: Date): AttachFn | undefined {
  const request = opts.attestations?.provenance;
  if (!request) return undefined;
  return async ({ digest, size, names, image }) => {
    const platform = platformOf(image.config);
    const facts: ProvenanceFacts = {
      dockerfileName: opts.dockerfileName,
      buildArgs: opts.buildArgs,
      ...(opts.target ? { target: opts.target } : {}),
      platform,
      materials: materialsOf(graph),
      startedOn,
      finishedOn: new Date(),
    };
    const statement = provenanceStatement({ digest, names, platform }, facts, request);
    return attachStatements(store, { digest, size, platform }, [{ predicateType: SLSA_V02_PREDICATE, statement }]);
  };
}
