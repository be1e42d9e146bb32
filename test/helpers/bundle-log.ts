// Which bundles a `tsbuild` process compiled, seen from inside it: a
// preloaded module notes every vm.Script the launcher makes
// (bin/tsbuild.js compiles each bundle it runs as one).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const NOTE_SCRIPTS = `
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
vm.Script = class extends vm.Script {
  constructor(code, options) {
    super(code, options);
    fs.appendFileSync(process.env.BUNDLE_LOG, path.basename(options.filename) + '\\n');
  }
};
`;

/** The environment that makes a CLI process note its bundles in `log`, and a reader of that note. */
export function bundleLog(dir: string, log: string): { env: NodeJS.ProcessEnv; bundles(): string[] } {
  const preload = path.join(dir, 'note-scripts.cjs');
  if (!existsSync(preload)) writeFileSync(preload, NOTE_SCRIPTS);
  return {
    env: { NODE_OPTIONS: `--require ${preload}`, BUNDLE_LOG: log },
    bundles: () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []),
  };
}
