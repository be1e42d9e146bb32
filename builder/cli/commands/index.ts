// Every subcommand, in one module: the CLI loads it on demand, so
// `tsbuild --version` and `--help` never do (and the bundle built by
// scripts/bundle-cli.js splits here). Commands still import their heavy
// parts (the solver, the registry client, the sandbox) lazily.
import * as build from './build.js';
import * as run from './run.js';
import * as ps from './ps.js';
import * as logs from './logs.js';
import * as stop from './stop.js';
import * as rm from './rm.js';
import * as images from './images.js';
import * as inspect from './inspect.js';
import * as history from './history.js';
import * as pull from './pull.js';
import * as push from './push.js';
import * as login from './login.js';
import * as logout from './logout.js';
import * as tag from './tag.js';
import * as rmi from './rmi.js';
import * as save from './save.js';
import * as load from './load.js';
import * as import_ from './import.js';
import * as du from './du.js';
import * as prune from './prune.js';
import * as debug from './debug.js';

export interface CommandModule {
  run(argv: string[]): Promise<number>;
}

export const COMMAND_MODULES: Record<string, CommandModule> = {
  build: build,
  run: run,
  ps: ps,
  logs: logs,
  stop: stop,
  rm: rm,
  images: images,
  inspect: inspect,
  history: history,
  pull: pull,
  push: push,
  login: login,
  logout: logout,
  tag: tag,
  rmi: rmi,
  save: save,
  load: load,
  import: import_,
  du: du,
  prune: prune,
  debug: debug,
};
