// The layering rules, checked on the sources by scripts/check-imports.js:
// no cycle between builder/ folders or between files, and frontend/,
// runner-native/ and cache/ import only what they may.
import test from 'ava';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from './helpers/cli.js';

test('no import cycle and no forbidden import (scripts/check-imports.js)', async (t) => {
  const { stdout } = await promisify(execFile)(process.execPath, [path.join(PROJECT_ROOT, 'scripts/check-imports.js')]).catch((err: { stdout?: string }) => {
    t.fail(err.stdout ?? String(err));
    return { stdout: '' };
  });
  t.regex(stdout, /^ok: /);
});
