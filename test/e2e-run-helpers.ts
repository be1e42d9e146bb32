// Shared set-up of the end-to-end RUN test files: one fresh store per file,
// temp dirs removed when the file ends, a clear skip where builds cannot run.
import test from 'ava';
import { buildSkipReason, freshStore, tempDir } from './helpers/cli.js';
import { makeContext } from './e2e-image-helpers.js';

export interface E2eRunSuite {
  skip: string | undefined;
  it: typeof test | typeof test.skip;
  // Set before the first test runs.
  store: { root: string; dispose(): Promise<void> };
  scratchDir(label: string): Promise<string>;
  context(files: Parameters<typeof makeContext>[0]): Promise<string>;
}

export function e2eRunSuite(title: string): E2eRunSuite {
  const skip = buildSkipReason();
  if (skip) test(`${title} (skipped)`, (t) => {
    t.log(`skipped: ${skip}`);
    t.pass();
  });
  const suite: E2eRunSuite = {
    skip,
    it: skip ? test.skip : test,
    store: undefined as unknown as E2eRunSuite['store'],
    scratchDir: (label) => tempDir(`e2e-run-${label}-`),
    context: (files) => makeContext(files, 'e2e-run-ctx-'),
  };
  test.before(async () => {
    if (!skip) suite.store = await freshStore();
  });
  test.after.always(async () => suite.store?.dispose());
  return suite;
}
