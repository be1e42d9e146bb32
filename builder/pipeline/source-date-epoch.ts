// SOURCE_DATE_EPOCH (reproducible-builds.org): from --build-arg, as BuildKit
// takes it, else from the environment, as buildx passes it on.
import { UsageError } from '../errors.js';

export function sourceDateEpochOf(buildArgs: ReadonlyMap<string, string>, env: NodeJS.ProcessEnv = process.env): number | undefined {
  const v = buildArgs.get('SOURCE_DATE_EPOCH') ?? env.SOURCE_DATE_EPOCH;
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`invalid SOURCE_DATE_EPOCH "${v}": expected a non-negative integer (seconds since 1970)`);
  return Number(v);
}
