#!/usr/bin/env node
// Compiles the sandbox launcher (runner-native/helper/*.c) into
// runner-native/build/tsbuild-sandbox, the remote client's context
// check (builder/remote/native/stat-check.c) into
// runner-native/build/tsbuild-stat-check, and the Node-API addon
// (runner-native/addon/*.c: the CLI's exit, helper processes started
// without a fork) into runner-native/build/tsbuild-addon.node, with the
// system C compiler.
// It never fails the install: without Linux or a C compiler tsbuild still
// works for everything but RUN, so we only print a warning.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const helperDir = join(root, 'runner-native', 'helper');
const buildDir = join(root, 'runner-native', 'build');
const output = join(buildDir, 'tsbuild-sandbox');

function warn(message) {
  console.warn(`warning: sandbox helper not built: ${message}`);
  console.warn('warning: RUN instructions will not work until it is (needs Linux and cc/gcc; run `npm run build` again).');
}

function findCompiler() {
  const candidates = [process.env.CC, 'cc', 'gcc', 'clang'].filter(Boolean);
  for (const cc of candidates) {
    const probe = spawnSync(cc, ['--version'], { stdio: 'ignore' });
    if (probe.status === 0) return cc;
  }
  return null;
}

function main() {
  if (process.platform !== 'linux') {
    warn(`the sandbox is Linux-only (this is ${process.platform})`);
    return;
  }
  const cc = findCompiler();
  if (!cc) {
    warn('no C compiler found (tried $CC, cc, gcc, clang)');
    return;
  }
  buildStatCheck(cc);
  buildAddon(cc);
  const sources = readdirSync(helperDir).filter((f) => f.endsWith('.c')).sort().map((f) => join(helperDir, f));
  mkdirSync(buildDir, { recursive: true });
  // Build to a temp name and rename, so a failed or interrupted build
  // never leaves a half-written helper where the runner looks for it.
  const tmp = `${output}.tmp-${process.pid}`;
  const args = ['-std=gnu11', '-O2', '-Wall', '-Wextra', '-Werror=implicit-function-declaration', '-o', tmp, ...sources];
  // libseccomp (Debian: libseccomp-dev) loads the seccomp profile. Without
  // it the helper still builds, and refuses to run anything that asks for
  // a profile (the default) rather than run it unfiltered.
  let result = spawnSync(cc, [...args, '-lseccomp'], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (result.status !== 0) {
    console.warn('warning: sandbox helper built without libseccomp (install libseccomp-dev): RUN and `run` then need --security-opt seccomp=unconfined');
    result = spawnSync(cc, [...args, '-DNO_LIBSECCOMP'], { stdio: 'inherit' });
  }
  if (result.status !== 0) {
    warn(`${cc} failed (exit ${result.status ?? result.signal})`);
    return;
  }
  renameSync(tmp, output);
  console.log(`built ${output}`);
}

// Without it a remote client checks its context in JavaScript, only slower.
function buildStatCheck(cc) {
  // -ffp-contract=off: times are compared as doubles computed exactly as Node computes them.
  buildOptional(cc, 'tsbuild-stat-check', ['-ffp-contract=off', '-pthread', join(root, 'builder', 'remote', 'native', 'stat-check.c')], 'remote builds check their context in JavaScript');
}

// Without it tsbuild forks itself for its helpers and hashes with node:crypto, only slower.
function buildAddon(cc) {
  const addonDir = join(root, 'runner-native', 'addon');
  const sources = readdirSync(addonDir).filter((f) => f.endsWith('.c')).sort().map((f) => join(addonDir, f));
  buildOptional(cc, 'tsbuild-addon.node', ['-Werror=implicit-function-declaration', '-shared', '-fPIC', ...sources], 'helpers are started by a fork of tsbuild');
}

// A part tsbuild works without: built to a temp name and renamed in (as
// the helper is), a failure only warned about with what it costs.
function buildOptional(cc, name, args, without) {
  const out = join(buildDir, name);
  const tmp = `${out}.tmp-${process.pid}`;
  mkdirSync(buildDir, { recursive: true });
  const result = spawnSync(cc, ['-std=gnu11', '-O2', '-Wall', '-Wextra', '-o', tmp, ...args], { stdio: 'inherit' });
  if (result.status !== 0) {
    console.warn(`warning: ${out} not built (${cc} failed): ${without}`);
    return;
  }
  renameSync(tmp, out);
}

main();
