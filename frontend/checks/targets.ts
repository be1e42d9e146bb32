// `--call targets`: the stages a Dockerfile defines, like BuildKit's
// ListTargets + PrintTargets (no images are resolved).
import type { Dockerfile } from '../instructions/index.js';
import { docComment } from '../graph/args.js';
import { tabulate } from './tabwriter.js';

export interface TargetInfo {
  /** Lower-cased `AS` name; undefined for an unnamed stage. */
  readonly name?: string;
  /** From a `# <name> <description>` comment directly above the FROM. */
  readonly description: string;
  /** The last stage: what a build without --target produces. */
  readonly isDefault: boolean;
  /** The FROM argument as written (before expansion). */
  readonly base: string;
  /** The FROM --platform value as written, if any. */
  readonly platform?: string;
  readonly line: number;
}

export function listTargets(df: Dockerfile): TargetInfo[] {
  return df.stages.map((stage, i) => ({
    ...(stage.name !== undefined ? { name: stage.name } : {}),
    description: docComment(stage.from.comments, stage.name),
    isDefault: i === df.stages.length - 1,
    base: stage.from.image,
    ...(stage.from.platform !== undefined ? { platform: stage.from.platform } : {}),
    line: stage.from.location.startLine,
  }));
}

/** The `TARGET  DESCRIPTION` table docker buildx prints. */
export function formatTargets(targets: readonly TargetInfo[]): string {
  const rows = [['TARGET', 'DESCRIPTION']];
  for (const t of targets) {
    let name = t.name ?? '';
    if (t.isDefault) name = name === '' ? '(default)' : `${name} (default)`;
    rows.push([name, t.description]);
  }
  return tabulate(rows, 1);
}
