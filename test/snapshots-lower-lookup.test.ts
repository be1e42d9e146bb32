// Reading an image's file straight from its layers' snapshot dirs, as the
// overlay mount of them would show it (RUN's and `run`'s USER lookup reads
// /etc/passwd and /etc/group this way, without mounting anything).
import test, { type ExecutionContext } from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { hostFsop } from '../runner-native/fsop.js';
import { OVERLAY_OPAQUE_XATTR } from '../cache/whiteout.js';
import { lowersShow, readFileInLowers } from '../builder/snapshots/lower-lookup.js';
import { resolveUserInLayers } from '../builder/steps/user.js';
import { needsRoot, runIf } from './helpers/skip.js';
import { removeTempDir, tempDir } from './helpers/temp-dirs.js';

function layer(root: string, name: string, files: Record<string, string>): string {
  const dir = path.join(root, name);
  mkdirSync(dir, { recursive: true });
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

async function scratch(t: ExecutionContext): Promise<string> {
  const dir = await tempDir('tsbuild-lower-lookup-');
  t.teardown(() => removeTempDir(dir));
  return dir;
}

const read = async (lowers: string[], file: string) => (await readFileInLowers(lowers, file))?.toString() ?? null;

test('the topmost layer with the file wins; a file only a lower layer has shows through', async (t) => {
  const root = await scratch(t);
  const base = layer(root, 'base', { 'etc/passwd': 'root:x:0:0::/root:/bin/sh\n', 'etc/group': 'root:x:0:\n' });
  const top = layer(root, 'top', { 'etc/passwd': 'root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n' });
  t.regex((await read([top, base], '/etc/passwd'))!, /^app:/m);
  t.is(await read([top, base], '/etc/group'), 'root:x:0:\n');
  t.is(await read([top, base], '/etc/shadow'), null);
  t.is(await read([top, base], '/etc'), null, 'a directory is not a file');
  t.deepEqual(await resolveUserInLayers([top, base], 'app'), { uid: 1000, gid: 1000, additionalGids: [], home: '/home/app' });
});

test('symlinks are followed inside the image, never to the host', async (t) => {
  const root = await scratch(t);
  const base = layer(root, 'base', { 'real/passwd': 'img:x:5:5::/img:/bin/sh\n', 'etc/.keep': '' });
  symlinkSync('../real/passwd', path.join(base, 'etc/passwd'));
  // an absolute target starts at the image's root, not the host's
  symlinkSync('/etc/passwd', path.join(base, 'etc/abs'));
  symlinkSync('/../../../../../../etc/hostname', path.join(base, 'etc/escape'));
  symlinkSync('/loop-b', path.join(base, 'loop-a'));
  symlinkSync('/loop-a', path.join(base, 'loop-b'));
  mkdirSync(path.join(base, 'linked'));
  symlinkSync('/real', path.join(base, 'linked/dir'));
  t.is(await read([base], '/etc/passwd'), 'img:x:5:5::/img:/bin/sh\n');
  t.is(await read([base], '/etc/abs'), 'img:x:5:5::/img:/bin/sh\n');
  t.is(await read([base], '/linked/dir/passwd'), 'img:x:5:5::/img:/bin/sh\n');
  t.is(await read([base], '/etc/escape'), null, 'the host\'s /etc/hostname is out of reach');
  t.is(await read([base], '/loop-a'), null);
  t.is(await read([base], '/real/../etc/passwd'), 'img:x:5:5::/img:/bin/sh\n');
});

runIf(needsRoot('whiteouts are 0/0 character devices and opaque dirs trusted.* xattrs: mknod and setxattr need root'))(
  'a whiteout or an opaque directory in an upper layer hides what the layers beneath have', async (t) => {
    const root = await scratch(t);
    const base = layer(root, 'base', { 'etc/passwd': 'old:x:1:1::/:/bin/sh\n', 'etc/group': 'old:x:1:\n', 'opt/a/f': 'beneath\n' });
    const mid = layer(root, 'mid', { 'opt/a/g': 'mid\n', 'etc/.keep': '' });
    execFileSync('mknod', [path.join(mid, 'etc/passwd'), 'c', '0', '0'], { stdio: 'ignore' });
    const top = layer(root, 'top', { 'opt/.keep': '' });
    mkdirSync(path.join(top, 'opt/a'));
    await hostFsop().setXattr(top, 'opt/a', OVERLAY_OPAQUE_XATTR, Buffer.from('y'));
    t.is(await read([mid, base], '/etc/passwd'), null, 'whited out');
    t.is(await read([mid, base], '/etc/group'), 'old:x:1:\n');
    t.is(await read([mid, base], '/opt/a/f'), 'beneath\n');
    t.is(await read([top, mid, base], '/opt/a/f'), null, 'under an opaque dir');
    t.is(await read([top, mid, base], '/opt/a/g'), null);
    t.false(await lowersShow([top, mid, base], 'opt/a/f'));
    t.true(await lowersShow([top, mid, base], 'opt/a'));
    // With /etc/passwd gone, a numeric user still resolves (as runc does); a name does not.
    t.deepEqual(await resolveUserInLayers([mid, base], '1234'), { uid: 1234, gid: 0, additionalGids: [], home: '/' });
    await t.throwsAsync(resolveUserInLayers([mid, base], 'old'), { message: /unable to find user old/ });
  });
