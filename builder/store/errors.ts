// The store's folder cannot be created or written: for a user whose home
// directory does not exist, the message names that directory rather than
// ending in a stack trace from mkdir.
import { existsSync } from 'node:fs';
import path from 'node:path';

function firstMissing(dir: string): string | undefined {
  let missing: string | undefined;
  for (let d = path.resolve(dir); !existsSync(d); d = path.dirname(d)) {
    missing = d;
    if (path.dirname(d) === d) break;
  }
  return missing;
}

export class StoreAccessError extends Error {
  readonly userError = true;
  readonly code = 'STORE_ACCESS';

  constructor(root: string, cause: NodeJS.ErrnoException) {
    const missing = firstMissing(root);
    const why = missing && missing !== path.resolve(root)
      ? `${missing} does not exist and cannot be created (${cause.code ?? cause.message})`
      : `${cause.code ?? cause.message}${cause.path ? ` on ${cause.path}` : ''}`;
    super(`cannot create the store in ${root}: ${why}; create it, or set XDG_DATA_HOME or TSBUILD_ROOT to a writable folder`);
  }
}
