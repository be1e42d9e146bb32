#!/usr/bin/env node
// The tsbuild command: runs the bundled CLI (dist/bundle/tsbuild.cjs, made
// by `npm install`, see scripts/bundle-cli.js) through V8's code cache. A
// short-lived CLI spends much of its time compiling the functions it runs;
// with the cache a no-op rebuild starts ~100 ms sooner. Each command has its
// own cache (`build` runs other functions than `ps`), written after its
// first successful run and again whenever V8 rejects it (another Node). The
// cache is named after the bundle file's identity, so a rebuilt bundle never
// meets an old cache. CommonJS (bin/package.json): no ES module loader to
// start either.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const Module = require('node:module');

const bundle = path.join(__dirname, '..', 'dist', 'bundle', 'tsbuild.cjs');
// With --enable-source-maps, a plain require: Node maps the stack traces of
// modules it loads itself back to the TypeScript, not those of a vm.Script.
const withCache = !process.sourceMapsEnabled;
const cacheFile = withCache ? codeCachePath() : '';
let cachedData;
try {
  if (withCache) cachedData = fs.readFileSync(cacheFile);
} catch {
  // First run of this command: compiled from source, cached at the end.
}
const script = withCache ? new vm.Script(Module.wrap(fs.readFileSync(bundle, 'utf8')), { filename: bundle, cachedData }) : undefined;
const cli = { exports: {} };
if (script) script.runInThisContext()(cli.exports, require, cli, bundle, path.dirname(bundle));
else cli.exports = require(bundle);

cli.exports.main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Successes only: a mistyped command must not leave a cache file behind.
    if (script && code === 0 && (!cachedData || script.cachedDataRejected)) saveCodeCache();
  },
  (err) => {
    console.error(err);
    process.exitCode = 1;
  },
);

function codeCachePath() {
  const st = fs.statSync(bundle);
  const command = /^[a-z]+$/.test(process.argv[2] ?? '') ? process.argv[2] : 'other';
  return path.join(path.dirname(bundle), 'v8-cache', `${st.ino}-${st.size}-${Math.floor(st.mtimeMs)}-${command}.bin`);
}

// After the command ran, so that the functions it compiled are in the cache.
function saveCodeCache() {
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  try {
    fs.mkdirSync(path.dirname(cacheFile), { recursive: true });
    fs.writeFileSync(tmp, script.createCachedData());
    fs.renameSync(tmp, cacheFile);
  } catch {
    // A read-only install runs without a cache, only slower.
    fs.rmSync(tmp, { force: true });
  }
}
