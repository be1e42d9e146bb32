// cache/posix-path.ts, which the CLI bundle uses in place of node:path's
// join(), resolve() and dirname(): the same result as node:path for every combination
// of awkward segments, and the same error for a non-string.
import test from 'ava';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { dirname, join, resolve } from '../cache/posix-path.js';
import { PROJECT_ROOT } from './helpers/cli.js';

const SEGMENTS = ['', '/', '//', '.', '..', './', '../', '/.', '/..', 'a', 'a/', '/a', 'a//b', 'a/./b', 'a/../b', '.a', 'a.', '..a', 'a..', '...', 'a/b/', '/a/b', 'sha256:1f', ' '];

function* combinations(n: number): Generator<string[]> {
  if (n === 0) {
    yield [];
    return;
  }
  for (const rest of combinations(n - 1)) for (const s of SEGMENTS) yield [...rest, s];
}

test('join(), resolve() and dirname() give what node:path gives, for 1 to 3 arguments of every awkward kind', (t) => {
  let compared = 0;
  for (let n = 0; n <= 3; n++) {
    for (const parts of combinations(n)) {
      if (join(...parts) !== path.join(...parts)) t.fail(`join(${JSON.stringify(parts)}): ${join(...parts)} vs ${path.join(...parts)}`);
      if (resolve(...parts) !== path.resolve(...parts)) t.fail(`resolve(${JSON.stringify(parts)}): ${resolve(...parts)} vs ${path.resolve(...parts)}`);
      const one = parts.join('');
      if (dirname(one) !== path.dirname(one)) t.fail(`dirname(${JSON.stringify(one)}): ${dirname(one)} vs ${path.dirname(one)}`);
      compared++;
    }
  }
  t.is(compared, 1 + SEGMENTS.length + SEGMENTS.length ** 2 + SEGMENTS.length ** 3);
});

test('the paths the builder makes come back as joined, without normalizing', (t) => {
  const hex = 'ab'.repeat(32);
  t.is(join('/var/lib/tsbuild/cache-index', hex.slice(0, 2), `${hex}.json`), `/var/lib/tsbuild/cache-index/ab/${hex}.json`);
  t.is(resolve('/srv/ctx', 'app/lib'), '/srv/ctx/app/lib');
  t.is(resolve('rel'), `${process.cwd()}/rel`);
  t.is(resolve(), process.cwd());
  t.is(dirname(`/store/snapshots/${'ab'.repeat(12)}/upper`), `/store/snapshots/${'ab'.repeat(12)}`);
});

test('a non-string argument fails as node:path fails', (t) => {
  const calls: Array<() => string> = [() => join('/a', 3 as unknown as string), () => resolve('/a', 3 as unknown as string), () => dirname(3 as unknown as string)];
  for (const call of calls) {
    const err = t.throws(call) as NodeJS.ErrnoException;
    t.is(err.code, 'ERR_INVALID_ARG_TYPE');
  }
});

test('the CLI bundles take join(), resolve() and dirname() from it', (t) => {
  for (const name of ['tsbuild.cjs', 'tsbuild-remote.cjs']) {
    const text = readFileSync(path.join(PROJECT_ROOT, 'dist', 'bundle', name), 'utf8');
    const map = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'dist', 'bundle', `${name}.map`), 'utf8')) as { sources: string[] };
    t.true(map.sources.some((s) => s.endsWith('cache/posix-path.ts')), name);
    // still one copy of node:path's other functions, shared by every module
    t.true(text.includes('require("node:path")'), name);
  }
});
