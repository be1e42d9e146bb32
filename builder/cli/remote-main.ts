// The entry of the lean bundle (dist/bundle/tsbuild-remote.cjs,
// scripts/bundle-cli.js), which the launcher runs instead of the full CLI
// when a server may be named, and for a local `build` (bin/tsbuild.js). A
// no-op rebuild is mostly start-up: this bundle holds only what talks to a
// server and what answers a local build from the store's memo (no solver,
// store, snapshotter or sandbox), so there is less to read, deserialize
// from the code cache and initialise. Whatever turns out to run the full
// way on this machine (a local build the memo does not answer, run, ps,
// help, a bad flag's error...) is handed to the full CLI with the original
// arguments, so it behaves exactly as a CLI without this bundle would.
import { mayUseServer, runIfRemote } from './remote-entry.js';
import { version } from './version.js';

export interface FullCli {
  main(argv: string[]): Promise<number>;
}

/** Loads the full CLI; `variant` names a code cache of its own for what it will run (bin/tsbuild.js). */
export type LoadFullCli = (variant?: string) => FullCli;

export async function main(argv: string[], loadFullCli: LoadFullCli): Promise<number> {
  if (!mayUseServer(argv)) {
    const { answerFromLocalMemo } = await import('./local-memo-entry.js');
    const outcome = await answerFromLocalMemo(argv).catch(() => undefined);
    return typeof outcome === 'number' ? outcome : loadFullCli(outcome).main(argv);
  }
  const outcome = await runIfRemote(argv, version());
  if ('code' in outcome) return outcome.code;
  return loadFullCli().main(argv);
}
