// The CLI's exit (runner-native/addon/exit.c, used by bin/tsbuild.js
// exitNow()): the process ends with the code it was given, after its 'exit'
// listeners, with all it wrote delivered, and no process of it (nothing
// showing its command line) is left.
import test from 'ava';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from './helpers/cli.js';

const ADDON = path.join(PROJECT_ROOT, 'runner-native', 'build', 'tsbuild-addon.node');

// Loads the addon, writes 3 MB (more than a pipe holds), and once that is
// written (as the launcher waits for it) exits through the addon with the
// code asked for; an 'exit' listener adds a line.
const SCRIPT = `
const addon = { exports: {} };
process.dlopen(addon, process.argv[1]);
process.on('exit', () => process.stdout.write('listener ran\\n'));
process.reallyExit = (code) => addon.exports.exit(code);
process.stdout.write('x'.repeat(3 << 20) + '\\n', () => process.exit(Number(process.argv[2])));
`;

/** Pids of the processes whose command line holds `marker`. */
function processesWith(marker: string): number[] {
  const found: number[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes(marker)) found.push(Number(pid));
    } catch { /* gone meanwhile */ }
  }
  return found;
}

function exitThroughAddon(code: number, marker: string): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', SCRIPT, ADDON, String(code), marker], { stdio: ['ignore', 'pipe', 'inherit'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.on('error', reject);
    child.on('close', (exitCode) => resolve({ code: exitCode, stdout: Buffer.concat(chunks).toString() }));
  });
}

for (const code of [0, 3]) {
  test(`the addon exits with ${code} after the exit listeners, its output whole, nothing left behind`, async (t) => {
    const marker = `fast-exit-test-${randomBytes(6).toString('hex')}`;
    const r = await exitThroughAddon(code, marker);
    t.is(r.code, code);
    t.is(r.stdout.length, (3 << 20) + 1 + 'listener ran\n'.length);
    t.true(r.stdout.endsWith('x\nlistener ran\n'));
    t.deepEqual(processesWith(marker), []);
  });
}
