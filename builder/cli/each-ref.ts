// Commands that take several names (`rm`, `stop`) treat each on its own,
// like docker: a name that fails is reported and the others still go.
import { isUserError } from './report-error.js';

/** Runs `act` per name, printing each name done; exit code 1 if any failed with a user error. */
export async function forEachRef(refs: readonly string[], act: (ref: string) => Promise<void>): Promise<number> {
  let failed = false;
  for (const ref of refs) {
    try {
      await act(ref);
      process.stdout.write(`${ref}\n`);
    } catch (err) {
      if (!isUserError(err)) throw err;
      process.stderr.write(`ERROR: ${err.message}\n`);
      failed = true;
    }
  }
  return failed ? 1 : 0;
}
