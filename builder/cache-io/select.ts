// Which solved steps a --cache-to exports, in BuildKit's terms:
//   mode=min  the steps the final image is made of: the target stage and
//             the stages it is built FROM, not stages it only copies from;
//   mode=max  every step solved in this build, in every stage.
// Image sources (FROM an image) are not exported: their key is the image's
// config digest, and the importing side gets the image itself from its registry.
import type { BuildGraph, StagePlan } from '../../frontend/graph/types.js';
import type { Vertex } from '../solver/vertex.js';
import type { StepResult } from '../store/step-result.js';
import type { ExportEntry } from './export.js';

export interface SolvedEntry {
  vertex: Vertex<StepResult>;
  key: string;
  result: StepResult;
}

export interface StepVertex {
  stage: StagePlan;
  vertex: Vertex<StepResult>;
}

export function targetChainStages(graph: BuildGraph): Set<number> {
  const chain = new Set<number>();
  let stage: StagePlan | undefined = graph.target;
  while (stage && !chain.has(stage.index)) {
    chain.add(stage.index);
    const base: StagePlan['base'] = stage.base;
    stage = base.type === 'stage' ? graph.stages.find((s) => s.index === base.index) : undefined;
  }
  return chain;
}

export function selectEntries(graph: BuildGraph, stepVertices: readonly StepVertex[], solved: readonly SolvedEntry[], mode: 'min' | 'max'): ExportEntry[] {
  const chain = targetChainStages(graph);
  const stageOf = new Map(stepVertices.map((s) => [s.vertex, s.stage]));
  const out: ExportEntry[] = [];
  for (const s of solved) {
    const stage = stageOf.get(s.vertex);
    if (!stage) continue;
    if (mode === 'min' && !chain.has(stage.index)) continue;
    out.push({ key: s.key, result: s.result });
  }
  return out;
}
