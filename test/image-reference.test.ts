import test from 'ava';
import { familiarName, familiarRepository, formatReference, parseReference } from '../builder/image/reference.js';

const H = 'a'.repeat(64);

const table: Array<[input: string, full: string, familiar: string]> = [
  ['busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
  ['busybox:1.36', 'docker.io/library/busybox:1.36', 'busybox:1.36'],
  ['library/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
  ['docker.io/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
  ['index.docker.io/library/busybox:x', 'docker.io/library/busybox:x', 'busybox:x'],
  ['me/app:v1', 'docker.io/me/app:v1', 'me/app:v1'],
  ['me/sub/app', 'docker.io/me/sub/app:latest', 'me/sub/app:latest'],
  ['localhost:5000/x', 'localhost:5000/x:latest', 'localhost:5000/x:latest'],
  ['localhost/x:t', 'localhost/x:t', 'localhost/x:t'],
  ['ghcr.io/o/r:1.0', 'ghcr.io/o/r:1.0', 'ghcr.io/o/r:1.0'],
  ['Registry/x', 'Registry/x:latest', 'Registry/x:latest'],
  ['[::1]:5000/x', '[::1]:5000/x:latest', '[::1]:5000/x:latest'],
  [`busybox@sha256:${H}`, `docker.io/library/busybox@sha256:${H}`, `busybox@sha256:${H}`],
  [`busybox:1@sha256:${H}`, `docker.io/library/busybox:1@sha256:${H}`, `busybox:1@sha256:${H}`],
  ['a_b.c-d__e:Tag_1.x-y', 'docker.io/library/a_b.c-d__e:Tag_1.x-y', 'a_b.c-d__e:Tag_1.x-y'],
];

for (const [input, full, familiar] of table) {
  test(`normalises ${input}`, (t) => {
    const ref = parseReference(input);
    t.is(formatReference(ref), full);
    t.is(familiarName(ref), familiar);
    // Normalisation is idempotent: the full form parses to itself.
    t.is(formatReference(parseReference(full)), full);
  });
}

test('familiar repository drops docker.io and library/ only where Docker does', (t) => {
  t.is(familiarRepository(parseReference('busybox')), 'busybox');
  t.is(familiarRepository(parseReference('me/app')), 'me/app');
  t.is(familiarRepository(parseReference('docker.io/library/a/b')), 'library/a/b');
  t.is(familiarRepository(parseReference('quay.io/library/x')), 'quay.io/library/x');
});

test('defaultTag false keeps a bare name without tag', (t) => {
  t.is(parseReference('busybox', { defaultTag: false }).tag, undefined);
});

const invalid = ['', 'UPPER', 'Busybox:1', 'a:b:c', 'x:', 'x@sha256:abc', 'a//b', '-a', 'a/', H, 'a:' + 't'.repeat(129), 'x y'];
for (const input of invalid) {
  test(`refuses ${JSON.stringify(input.length > 40 ? input.slice(0, 40) + '...' : input)}`, (t) => {
    const e = t.throws(() => parseReference(input));
    t.is((e as { code?: string }).code, 'INVALID_REFERENCE');
    t.true((e as { userError?: boolean }).userError);
  });
}

test('uppercase repository names get the lowercase hint', (t) => {
  t.regex(t.throws(() => parseReference('me/App'))!.message, /must be lowercase/);
});
