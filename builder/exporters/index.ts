// Resolves -o/--output specs into exporters before the build starts, as
// cache-io/spec.ts does for --cache-to/--cache-from.
import { checkRewriteTimestamp } from './attrs.js';
import { dockerExporter } from './docker.js';
import { imageExporter } from './image.js';
import { localExporter } from './local.js';
import { ociExporter } from './oci.js';
import { registryExporter } from './registry.js';
import { tarExporter } from './tar.js';
import type { Exporter, ExporterFactory, OutputSpec, OutputType, ResolveContext } from './types.js';

export type { Exporter, ExportIO, OutputSpec, OutputType } from './types.js';

const FACTORIES: Record<OutputType, ExporterFactory> = {
  image: imageExporter,
  oci: ociExporter,
  docker: dockerExporter,
  local: localExporter,
  tar: tarExporter,
  registry: registryExporter,
};

export { OUTPUT_TYPES } from './types.js';

/** No output given means type=image: the local store. */
export function resolveExporters(outputs: readonly OutputSpec[], ctx: ResolveContext): Exporter[] {
  const specs = outputs.length > 0 ? outputs : [{ type: 'image', attrs: new Map() } as OutputSpec];
  return specs.map((spec) => {
    checkRewriteTimestamp(spec.attrs);
    return FACTORIES[spec.type](spec.attrs, ctx);
  });
}
