// The graph builder's small formats: image references, platforms, Go-style
// formatting in history strings, EXPOSE port specs, in-image paths.
import test from 'ava';
import { parseImageReference, ReferenceError } from '../frontend/graph/reference.js';
import { formatPlatform, parsePlatform } from '../frontend/graph/platform.js';
import { goDuration, goHealthcheck, goPortSet, goList, goQuotedList } from '../frontend/graph/go-format.js';
import { parsePort } from '../frontend/graph/ports.js';
import { cleanPath, normalizeWorkdir, resolveDestination } from '../frontend/graph/paths.js';
import { parseLintConfig } from '../frontend/checks/linter.js';
import { tabulate } from '../frontend/checks/tabwriter.js';
import { DockerfileError } from '../frontend/errors.js';

test('image references are normalised like docker/distribution', (t) => {
  const n = (s: string) => parseImageReference(s).normalized;
  t.is(n('busybox'), 'docker.io/library/busybox:latest');
  t.is(n('user/app:1.0'), 'docker.io/user/app:1.0');
  t.is(n('localhost:5000/app'), 'localhost:5000/app:latest');
  t.is(n('ghcr.io/o/r@sha256:' + 'a'.repeat(64)), 'ghcr.io/o/r@sha256:' + 'a'.repeat(64));
  t.is(n('index.docker.io/library/alpine:3'), 'docker.io/library/alpine:3');
  t.deepEqual(parseImageReference('alpine:3.19').tag, '3.19');
  t.is(parseImageReference('alpine').tag, undefined);
  for (const bad of ['Alpine', 'alpine:', 'a b', 'alpine::1', '-x', 'a'.repeat(64)]) {
    t.throws(() => parseImageReference(bad), { instanceOf: ReferenceError }, bad);
  }
});

test('platforms parse and format like containerd', (t) => {
  const host = { os: 'linux', architecture: 'amd64' };
  t.deepEqual(parsePlatform('linux/arm64', host), { os: 'linux', architecture: 'arm64' });
  t.deepEqual(parsePlatform('linux/arm/v7', host), { os: 'linux', architecture: 'arm', variant: 'v7' });
  t.deepEqual(parsePlatform('linux/aarch64', host), { os: 'linux', architecture: 'arm64' });
  t.deepEqual(parsePlatform('arm64', host), { os: 'linux', architecture: 'arm64' });
  t.deepEqual(parsePlatform('linux/x86_64', host), { os: 'linux', architecture: 'amd64' });
  t.throws(() => parsePlatform('nonsense', host), { instanceOf: DockerfileError });
  t.is(formatPlatform({ os: 'linux', architecture: 'arm', variant: 'v6' }), 'linux/arm/v6');
});

test('Go formatting of durations, lists and healthchecks', (t) => {
  t.is(goDuration(0), '0s');
  t.is(goDuration(30e9), '30s');
  t.is(goDuration(90e9), '1m30s');
  t.is(goDuration(3600e9), '1h0m0s');
  t.is(goDuration(1.5e9), '1.5s');
  t.is(goDuration(500e6), '500ms');
  t.is(goDuration(2e3), '2µs');
  t.is(goDuration(7), '7ns');
  t.is(goList(['a', 'b c']), '[a b c]');
  t.is(goQuotedList(['sh', '-c', 'echo "hi"\n']), '["sh" "-c" "echo \\"hi\\"\\n"]');
  t.is(goHealthcheck({ Test: ['NONE'] }), `&{["NONE"] "0s" "0s" "0s" "0s" '\\x00'}`);
  t.is(goHealthcheck({ Test: ['CMD', 'a b'], Interval: 90e9, Retries: 10 }), `&{["CMD" "a b"] "1m30s" "0s" "0s" "0s" '\\n'}`);
  t.is(goPortSet(['80/tcp', '443/tcp', '80/tcp']), 'map[443/tcp:{} 80/tcp:{}]');
});

test('EXPOSE port specs', (t) => {
  t.deepEqual(parsePort('80').ports, ['80/tcp']);
  t.deepEqual(parsePort('53/UDP'), { ports: ['53/udp'], protoNotLowercase: true, hasHostPart: false });
  t.deepEqual(parsePort('8000-8002/tcp').ports, ['8000/tcp', '8001/tcp', '8002/tcp']);
  t.true(parsePort('127.0.0.1:8080:80').hasHostPart);
  t.throws(() => parsePort('80/xyz'), { message: /invalid proto: xyz/ });
  t.throws(() => parsePort('99999'), { message: /invalid containerPort: 99999/ });
});

test('paths inside the image', (t) => {
  t.is(cleanPath('/a/./b/../c/'), '/a/c');
  t.is(cleanPath('../x'), '../x');
  t.is(normalizeWorkdir('/app', 'src'), '/app/src');
  t.is(normalizeWorkdir('/app', '/opt/../srv'), '/srv');
  t.is(normalizeWorkdir('', 'rel'), '/rel');
  t.is(resolveDestination('/app', '.'), '/app/');
  t.is(resolveDestination('/app', 'bin/'), '/app/bin/');
  t.is(resolveDestination('/app', 'file.txt'), '/app/file.txt');
  t.is(resolveDestination('/app', '/etc/x/'), '/etc/x/');
});

test('# check= options', (t) => {
  const c = parseLintConfig(' skip = A, B ; error=true ');
  t.deepEqual([...c.skip], ['A', 'B']);
  t.true(c.errorOnWarning);
  t.true(parseLintConfig('skip=all').skipAll);
  t.throws(() => parseLintConfig('skip'), { message: /invalid check option "skip"/ });
  t.throws(() => parseLintConfig('nope=1'), { message: /invalid check option "nope"/ });
});

test('tab-aligned tables like Go tabwriter', (t) => {
  t.is(tabulate([['A', 'B'], ['long', 'x']], 1), 'A    B\nlong x\n');
});
