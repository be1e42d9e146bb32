// Tests that cannot run here (no root, a missing tool or kernel feature)
// are declared skipped, with the reason in their title: ava then reports
// them as skipped, never as passed. Decide at declaration time; a test that
// returns early with t.pass() would count as a pass that proved nothing.
import test, { type ExecutionContext } from 'ava';
import { existsSync } from 'node:fs';

export type Declare = (title: string, impl: (t: ExecutionContext) => unknown) => void;

/** `declare` (test, test.serial, ...) when `reason` is undefined; else a skipped test whose title says why. */
export function runIf(reason: string | undefined, declare: Declare = test): Declare {
  if (reason === undefined) return declare;
  return (title, impl) => test.skip(`${title} (skipped: ${reason})`, impl as never);
}

/** Why a test needing root cannot run, or undefined as root. */
export const needsRoot = (what = 'needs root'): string | undefined => (process.getuid?.() === 0 ? undefined : what);

/** Why a test needing a Debian tool cannot run, or undefined when it is installed. */
export function toolMissing(tool: string, pkg = tool): string | undefined {
  return ['/usr/bin', '/usr/sbin', '/bin', '/sbin'].some((d) => existsSync(`${d}/${tool}`)) ? undefined : `${tool} not installed (apt-get install ${pkg})`;
}
