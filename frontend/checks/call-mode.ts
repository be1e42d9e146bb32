// `tsbuild build --call <mode>`: the subrequests that answer questions
// about a Dockerfile instead of building it.
import { DockerfileError } from '../errors.js';
import type { Dockerfile } from '../instructions/index.js';
import type { BuildGraphOptions } from '../graph/build-graph.js';
import { checkDockerfile, formatCheckResult } from './check.js';
import { formatOutline, outlineBuild } from './outline.js';
import { formatTargets, listTargets } from './targets.js';

export const CALL_MODES = ['build', 'check', 'outline', 'targets'] as const;

/** Runs `call` and writes its report to `out`; returns the exit code. @throws DockerfileError */
export async function runCallMode(
  call: string,
  df: Dockerfile,
  opts: BuildGraphOptions,
  out: { write(text: string): unknown },
  source?: string,
): Promise<number> {
  switch (call) {
    case 'targets':
      out.write(formatTargets(listTargets(df)));
      return 0;
    case 'outline':
      out.write(formatOutline(await outlineBuild(df, opts)));
      return 0;
    case 'check': {
      const result = await checkDockerfile(df, opts);
      out.write(formatCheckResult(result, source));
      return result.exitCode;
    }
    default:
      throw new DockerfileError('BAD_CALL', `unknown --call ${JSON.stringify(call)}: expected one of ${CALL_MODES.join(', ')}`);
  }
}
