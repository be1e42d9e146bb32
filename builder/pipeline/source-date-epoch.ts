// SOURCE_DATE_EPOCH (reproducible-builds.org): from --build-arg, as BuildKit
// takes it, else from the caller's environment, as buildx passes it on.
// Parsed once per build (pipeline/build.ts) and handed down in StepEnv.
import { UsageError } from '../errors.js';

export function sourceDateEpochOf(buildArgs: ReadonlyMap<string, string>, fromEnvironment: string | undefined): number | undefined {
  const v = buildArgs.get('SOURCE_DATE_EPOCH') ?? fromEnvironment;
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`invalid SOURCE_DATE_EPOCH "${v}": expected a non-negative integer (seconds since 1970)`);
  return Number(v);
}
