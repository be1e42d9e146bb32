// A build that fails on a server prints what the same failing build prints
// locally: buildx's excerpt of the Dockerfile around the failing line and
// the located error, with the same exit code.
import { tsbuild } from './helpers/cli.js';
import { serverSuite } from './helpers/server-suite.js';
import { makeContext } from './e2e-image-helpers.js';

const suite = serverSuite('server errors');
const { it } = suite;

const failing: [string, string][] = [
  ['a RUN that exits non-zero', 'FROM busybox:latest\nRUN echo one\nRUN echo failing && \\\n    exit 3\nRUN echo never\n'],
  ['a COPY of a missing file', 'FROM busybox:latest\nWORKDIR /app\nCOPY missing.txt /x\n'],
];

for (const [what, dockerfile] of failing) {
  it(`${what}: the remote error is the local one, excerpt and exit code`, async (t) => {
    const ctx = await makeContext({ Dockerfile: dockerfile, 'present.txt': 'x\n' });
    const local = await tsbuild(['build', '-q', ctx], { root: suite.store.root });
    const remote = await suite.remote(['build', '-q', ctx]);
    t.is(local.code, 1, local.stderr);
    // From the excerpt on (a failed RUN's output above it carries timings).
    const excerpt = (stderr: string) => stderr.slice(Math.max(0, stderr.search(/^Dockerfile:\d+\n-{20}\n/m)));
    t.regex(excerpt(local.stderr), /^Dockerfile:\d+\n-{20}\n[^]*>>> [^]*\nERROR: Dockerfile:\d+: /);
    t.is(remote.code, local.code);
    t.is(excerpt(remote.stderr), excerpt(local.stderr));
  });
}
