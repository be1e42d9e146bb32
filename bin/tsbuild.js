#!/usr/bin/env node
// Thin launcher: the CLI is compiled and bundled into dist/ by `npm install`
// (scripts/bundle-cli.js says why it is bundled).
import { main } from '../dist/bundle/tsbuild.mjs';

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(err); process.exitCode = 1; },
);
