// Shared set-up of the end-to-end RUN test files: one fresh store per file,
// temp dirs removed when the file ends, a clear skip where builds cannot run.
import { storeSuite, tempDir, type StoreSuite } from './helpers/cli.js';
import { makeContext } from './e2e-image-helpers.js';

export interface E2eRunSuite extends StoreSuite {
  scratchDir(label: string): Promise<string>;
  context(files: Parameters<typeof makeContext>[0]): Promise<string>;
}

export function e2eRunSuite(title: string): E2eRunSuite {
  return Object.assign(storeSuite(title), {
    scratchDir: (label: string) => tempDir(`e2e-run-${label}-`),
    context: (files: Parameters<typeof makeContext>[0]) => makeContext(files, 'e2e-run-ctx-'),
  });
}
