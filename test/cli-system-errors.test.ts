// A path the user named that cannot be written (missing, no permission, a
// full disk) is one line naming that path, not a stack trace.
import test from 'ava';
import path from 'node:path';
import { describeSystemError } from '../builder/cli/report-error.js';
import { storeSuite, tsbuild } from './helpers/cli.js';

test('errno failures on a path read as one line with the path the user gave', (t) => {
  const err = Object.assign(new Error('EACCES'), { code: 'EACCES', syscall: 'open', path: '/out/.tmp-app.tar-123-0123456789ab' });
  t.is(describeSystemError(err), 'open /out/app.tar: permission denied');
  t.is(describeSystemError(Object.assign(new Error('x'), { code: 'ENOSPC', syscall: 'write' })), 'no space left on device');
  t.is(describeSystemError(Object.assign(new Error('x'), { code: 'ENOENT' })), undefined, 'an ENOENT without a path may be a bug: keep its stack');
  t.is(describeSystemError(new TypeError('x')), undefined);
});

const suite = storeSuite('cli system errors');

suite.it('save into a directory that does not exist: one line, exit 1', async (t) => {
  const root = suite.store.root;
  const imported = await tsbuild(['import', '-', 'empty:v1'], { root, input: Buffer.alloc(1024) });
  t.is(imported.code, 0, imported.stderr);
  const dest = path.join(root, 'no-such-dir', 'x.tar');
  const r = await tsbuild(['save', '-o', dest, 'empty:v1'], { root });
  t.is(r.code, 1);
  t.is(r.stderr.trim(), `ERROR: open ${dest}: no such file or directory`);
});
