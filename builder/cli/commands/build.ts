// `tsbuild build`: docker-compatible flags → BuildOptions → build(). This
// wrapper owns everything a build as a library call leaves to its caller:
// the progress writer on stderr, Ctrl-C, secrets from the environment,
// --iidfile/--metadata-file, and the exit code.
import { withBuildRequest } from '../build-request.js';

export async function run(argv: string[]): Promise<number> {
  return withBuildRequest(argv, async (req) => {
    const { runCli } = await import('../build-runner.js');
    return runCli(req);
  });
}
