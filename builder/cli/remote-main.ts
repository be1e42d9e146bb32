// The entry of the remote client's own bundle (dist/bundle/tsbuild-remote.cjs,
// scripts/bundle-cli.js), which the launcher runs instead of the full CLI
// when a server may be named (bin/tsbuild.js). A no-op rebuild through a
// server is mostly start-up: this bundle holds only what talks to the
// server (no solver, store, snapshotter or sandbox), so there is less to
// read, deserialize from the code cache and initialise. Whatever turns out
// to run on this machine (run, ps, help, a bad flag's error...) is handed
// to the full CLI with the original arguments, so it behaves exactly as a
// CLI without this bundle would.
import { runIfRemote } from './remote-entry.js';
import { version } from './version.js';

export interface FullCli {
  main(argv: string[]): Promise<number>;
}

export async function main(argv: string[], loadFullCli: () => FullCli): Promise<number> {
  const outcome = await runIfRemote(argv, version());
  if ('code' in outcome) return outcome.code;
  return loadFullCli().main(argv);
}
