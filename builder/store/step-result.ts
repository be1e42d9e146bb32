// What every build vertex produces: the layer chain of the filesystem so far
// and, per step of the chain's stages, whether it added a layer (a step
// whose diff is empty adds none and its history entry becomes empty_layer).
import type { LayerRecord } from '../snapshots/snapshot-store.js';

export interface StepResult {
  layers: LayerRecord[];
  stepAdded: boolean[];
}
