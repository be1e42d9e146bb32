// BuildKit's conformance vectors live in the sibling `../shared/conformance`
// folder (never copied in). A clone without it still runs `npm test`: the
// tests that need a missing folder are reported as skipped, one line naming
// the folder. Under CI=true a missing folder fails instead, so CI can never
// pass without the vectors.
import test from 'ava';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// dist/test/helpers → project root
const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const CONFORMANCE_ROOT = path.resolve(PROJECT_ROOT, '../shared/conformance');

/**
 * The absolute path of conformance folder `sub` (e.g. 'buildkit/parser'),
 * or undefined when it is missing; then one test is declared for it: a
 * skip naming the folder, or under CI=true a failure.
 */
export function conformanceDir(sub: string, what: string): string | undefined {
  const dir = path.join(CONFORMANCE_ROOT, sub);
  if (existsSync(dir)) return dir;
  const title = `${what}: conformance vectors missing at ${dir}`;
  if (process.env.CI === 'true') {
    test(title, (t) => t.fail(`${dir} is missing; CI must run with the shared conformance folder next to the project`));
  } else {
    test.skip(`${title} (skipped outside CI)`, () => {});
  }
  return undefined;
}
