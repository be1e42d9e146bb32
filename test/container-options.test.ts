// Unit tests of `tsbuild run`'s pure rules: flag values, ENTRYPOINT/CMD,
// environment merging, ps formatting, container store naming and logs.
import test from 'ava';
import { parseMountFlag, parseTmpfsFlag, parseVolumeFlag } from '../builder/containers/mount-spec.js';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { OWNERLESS_STALE_MS } from '../builder/image/lock.js';
import os from 'node:os';
import path from 'node:path';
import { ContainerStore, type Container, type ContainerConfig } from '../builder/containers/container-store.js';
import { commandText, humanDuration, statusText } from '../builder/containers/format.js';
import { LogWriter, readLogs } from '../builder/containers/logs.js';
import { containerArgs, containerEnv, containerWorkdir, mergeEnv, stopSignalOf } from '../builder/containers/process-config.js';
import { formatPorts } from '../builder/containers/port-proxy.js';
import {
  envFromFlag, parseCpus, parseEnvFile, parseMemory, parseNetwork, parsePort, parsePorts,
} from '../builder/containers/run-options.js';
import { defaultSpec } from '../runner-native/index.js';

test('memory sizes use binary units and refuse tiny limits', (t) => {
  t.is(parseMemory('512m'), 512 * 1024 * 1024);
  t.is(parseMemory('1g'), 1024 ** 3);
  t.is(parseMemory('1.5GB'), 1.5 * 1024 ** 3);
  t.is(parseMemory('67108864'), 64 * 1024 * 1024);
  t.throws(() => parseMemory('1m'), { message: /minimum memory limit/ });
  t.throws(() => parseMemory('lots'), { message: /invalid size/ });
});

test('--cpus maps to a CFS quota per 100ms period', (t) => {
  t.deepEqual(parseCpus('0.5'), { quota: 50_000, period: 100_000 });
  t.deepEqual(parseCpus('2'), { quota: 200_000, period: 100_000 });
  t.throws(() => parseCpus('0'));
  t.throws(() => parseCpus('-1'));
});

test('port specs: HOST:CONTAINER, IP:HOST:CONTAINER, CONTAINER alone, tcp only', (t) => {
  t.deepEqual(parsePort('8080:80'), { hostIp: '0.0.0.0', hostPort: 8080, containerPort: 80, protocol: 'tcp' });
  t.deepEqual(parsePort('127.0.0.1:8080:80/tcp'), { hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' });
  t.deepEqual(parsePort('127.0.0.1::80'), { hostIp: '127.0.0.1', hostPort: 0, containerPort: 80, protocol: 'tcp' });
  t.deepEqual(parsePort('80'), { hostIp: '0.0.0.0', hostPort: 0, containerPort: 80, protocol: 'tcp' });
  t.deepEqual(parsePort('[::1]:8080:80'), { hostIp: '::1', hostPort: 8080, containerPort: 80, protocol: 'tcp' });
  t.deepEqual(parsePort('53:53/udp'), { hostIp: '0.0.0.0', hostPort: 53, containerPort: 53, protocol: 'udp' });
  t.throws(() => parsePort('53:53/sctp'), { message: /only tcp and udp/ });
  t.deepEqual(parsePorts('127.0.0.1:8000-8001:80-81').map((p) => `${p.hostPort}:${p.containerPort}`), ['8000:80', '8001:81']);
  t.throws(() => parsePorts('8000-8002:80-81'), { message: /invalid ranges/ });
  t.throws(() => parsePort('99999:80'), { message: /invalid host port/ });
  t.throws(() => parsePort('a:b:c:d'), { message: /invalid port specification/ });
  t.is(formatPorts([parsePort('8080:80'), parsePort('[::1]:9000:90')]), '0.0.0.0:8080->80/tcp, [::1]:9000->90/tcp');
});

test('-v, --mount, --tmpfs: binds, named and anonymous volumes, tmpfs', (t) => {
  t.deepEqual(parseVolumeFlag('/srv/data:/data:ro'), { kind: 'bind', source: '/srv/data', destination: '/data', readonly: true });
  t.deepEqual(parseVolumeFlag('./x:/y', '/home/me'), { kind: 'bind', source: '/home/me/x', destination: '/y', readonly: false });
  t.deepEqual(parseVolumeFlag('myvol:/data'), { kind: 'volume', name: 'myvol', destination: '/data', readonly: false, nocopy: false });
  t.deepEqual(parseVolumeFlag('/data'), { kind: 'volume', destination: '/data', readonly: false, nocopy: false });
  t.throws(() => parseVolumeFlag('/a:relative'), { message: /absolute path/ });
  t.throws(() => parseVolumeFlag('/a:/b:rx'), { message: /invalid mode/ });
  t.throws(() => parseVolumeFlag('bad name!:/b'), { message: /invalid characters/ });
  t.deepEqual(parseMountFlag('type=volume,src=v1,dst=/v,readonly'), { kind: 'volume', name: 'v1', destination: '/v', readonly: true, nocopy: false });
  t.deepEqual(parseMountFlag('type=bind,source=/h,target=/c', '/'), { kind: 'bind', source: '/h', destination: '/c', readonly: false });
  t.deepEqual(parseMountFlag('type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1770'), { kind: 'tmpfs', destination: '/t', options: ['size=1m', 'mode=1770'] });
  t.throws(() => parseMountFlag('type=nfs,target=/x'), { message: /unknown mount type/ });
  t.deepEqual(parseTmpfsFlag('/run:size=2m'), { kind: 'tmpfs', destination: '/run', options: ['size=2m'] });
});

test('-e K takes K from the caller, or stays bare (which unsets it)', (t) => {
  t.is(envFromFlag('A=1', {}), 'A=1');
  t.is(envFromFlag('A', { A: 'from-caller' }), 'A=from-caller');
  t.is(envFromFlag('A', {}), 'A');
  t.throws(() => envFromFlag('=x', {}));
});

test('env files: comments, blank lines, bare names, whitespace in names refused', (t) => {
  t.deepEqual(parseEnvFile('# c\n\nA=1\n  B=two words\nC\n', { C: 'c' }), ['A=1', 'B=two words', 'C=c']);
  t.throws(() => parseEnvFile('BAD NAME=1\n', {}, 'f.env'), { message: /f\.env:1: variable 'BAD NAME' contains whitespaces/ });
});

test('network names: bridge means private', (t) => {
  t.is(parseNetwork('bridge'), 'private');
  t.is(parseNetwork('none'), 'none');
  t.is(parseNetwork('host'), 'host');
  t.throws(() => parseNetwork('overlay'));
});

test('ENTRYPOINT and CMD combine like docker', (t) => {
  const image = { Entrypoint: ['/entry'], Cmd: ['default'] };
  t.deepEqual(containerArgs(image, { command: [] }), ['/entry', 'default']);
  t.deepEqual(containerArgs(image, { command: ['x', 'y'] }), ['/entry', 'x', 'y']);
  // --entrypoint drops the image's CMD unless the CLI gives one
  t.deepEqual(containerArgs(image, { command: [], entrypoint: 'sh' }), ['sh']);
  t.deepEqual(containerArgs(image, { command: ['-c', 'true'], entrypoint: 'sh' }), ['sh', '-c', 'true']);
  t.deepEqual(containerArgs(image, { command: ['ls'], entrypoint: '' }), ['ls']);
  t.deepEqual(containerArgs({ Cmd: ['sh'] }, { command: [] }), ['sh']);
  t.throws(() => containerArgs({}, { command: [] }), { message: /no command specified/ });
  t.throws(() => containerArgs(image, { command: [], entrypoint: '' }), { message: /no command specified/ });
});

test('environment: image env, overrides in place, bare names unset, HOSTNAME and HOME added', (t) => {
  t.deepEqual(mergeEnv(['A=1', 'B=2', 'C=3'], ['B=20', 'D=4', 'A']), ['B=20', 'C=3', 'D=4']);
  t.deepEqual(containerEnv({ Env: ['PATH=/bin'] }, ['X=1'], { hostname: 'abc', home: '/root' }),
    ['HOSTNAME=abc', 'PATH=/bin', 'X=1', 'HOME=/root']);
  t.deepEqual(containerEnv({ Env: ['HOME=/custom'] }, [], { hostname: 'h', home: '/root' }), ['HOSTNAME=h', 'HOME=/custom']);
  t.deepEqual(containerEnv({}, ['HOSTNAME=mine'], { hostname: 'h', home: '/' }), ['HOSTNAME=mine', 'HOME=/']);
});

test('working dir and stop signal defaults', (t) => {
  t.is(containerWorkdir({}, undefined), '/');
  t.is(containerWorkdir({ WorkingDir: '/app' }, undefined), '/app');
  t.is(containerWorkdir({ WorkingDir: '/app' }, '/tmp'), '/tmp');
  t.throws(() => containerWorkdir({}, 'rel'), { message: /needs to be an absolute path/ });
  t.is(stopSignalOf({}), 'SIGTERM');
  t.is(stopSignalOf({ StopSignal: 'quit' }), 'SIGQUIT');
  t.is(stopSignalOf({ StopSignal: '9' }), '9');
});

test('ps formatting: durations, status, truncated command', (t) => {
  t.is(humanDuration(400), 'Less than a second');
  t.is(humanDuration(5000), '5 seconds');
  t.is(humanDuration(65_000), 'About a minute');
  t.is(humanDuration(3 * 3600_000), '3 hours');
  t.is(commandText(['echo', 'hi']), '"echo hi"');
  t.is(commandText(['httpd', '-f', '-v', '-p', '80', '-h', '/var/www']), '"httpd -f -v -p 80 -…"');
  const now = Date.parse('2024-01-01T00:01:00Z');
  const c = (state: Container['state']) => ({ config: { created: '2024-01-01T00:00:00Z' }, state } as Container);
  t.is(statusText(c({ status: 'running', startedAt: '2024-01-01T00:00:50Z' }), now), 'Up 10 seconds');
  t.is(statusText(c({ status: 'exited', exitCode: 7, finishedAt: '2024-01-01T00:00:58Z' }), now), 'Exited (7) 2 seconds ago');
  t.is(statusText(c({ status: 'created' }), now), 'Created');
});

function fakeConfig(id: string, name: string): ContainerConfig {
  return {
    id, name, created: new Date().toISOString(), image: 'busybox', imageId: 'sha256:x', args: ['true'],
    spec: defaultSpec({ args: ['true'], rootPath: '/x' }), network: 'none', ports: [], autoRemove: false, interactive: false, stopSignal: 'SIGTERM',
  };
}

test('container store: unique names, lookup by name or id prefix, removal frees the name', async (t) => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-ctr-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const store = new ContainerStore(root);
  const a = await store.create((name) => fakeConfig('a'.repeat(64), name), 'a'.repeat(64), 'web');
  t.is(a.config.name, 'web');
  await t.throwsAsync(store.create((name) => fakeConfig('b'.repeat(64), name), 'b'.repeat(64), 'web'), { code: 'NAME_IN_USE' } as never);
  await t.throwsAsync(store.create((name) => fakeConfig('c'.repeat(64), name), 'c'.repeat(64), 'bad name'), { code: 'INVALID_NAME' } as never);
  const b = await store.create((name) => fakeConfig('ab'.padEnd(64, '0'), name), 'ab'.padEnd(64, '0'));
  t.regex(b.config.name, /^[a-z]+_[a-z]+\d?$/);
  t.is((await store.find('web')).config.id, a.config.id);
  t.is((await store.find('aaaa')).config.id, a.config.id);
  await t.throwsAsync(store.find('a'), { code: 'AMBIGUOUS_CONTAINER' } as never);
  await t.throwsAsync(store.find('nothing'), { code: 'NO_SUCH_CONTAINER' } as never);
  t.is((await store.list()).length, 2);
  await store.updateState(a.config.id, { status: 'exited', exitCode: 3 });
  t.is((await store.find('web')).state.exitCode, 3);
  await store.remove(a);
  await t.throwsAsync(store.find('web'), { code: 'NO_SUCH_CONTAINER' } as never);
  const again = await store.create((name) => fakeConfig('d'.repeat(64), name), 'd'.repeat(64), 'web');
  t.is(again.config.name, 'web');
});

test('container store: a name claim that names no container (its maker killed before writing it) frees the name once not new', async (t) => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-ctr-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const store = new ContainerStore(root);
  await store.create((name) => fakeConfig('e'.repeat(64), name), 'e'.repeat(64), 'first');
  const claim = path.join(root, '.names', 'api');
  await writeFile(claim, '');
  await t.throwsAsync(store.create((name) => fakeConfig('f'.repeat(64), name), 'f'.repeat(64), 'api'), { code: 'NAME_IN_USE' } as never);
  const old = new Date(Date.now() - OWNERLESS_STALE_MS - 1000);
  await utimes(claim, old, old);
  const c = await store.create((name) => fakeConfig('f'.repeat(64), name), 'f'.repeat(64), 'api');
  t.is(c.config.name, 'api');
  t.is((await store.find('api')).config.id, 'f'.repeat(64));
});

test('logs keep stdout/stderr order, split multi-byte characters, and support --tail', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-log-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'container.log');
  const w = new LogWriter(file);
  const euro = Buffer.from('€\n');
  w.write('stdout', Buffer.from('one\n'));
  w.write('stderr', Buffer.from('oops\n'));
  w.write('stdout', euro.subarray(0, 1));
  w.write('stdout', euro.subarray(1));
  await w.close();
  const all = [];
  for await (const r of readLogs(file)) all.push(`${r.stream}:${r.log}`);
  t.deepEqual(all, ['stdout:one\n', 'stderr:oops\n', 'stdout:€\n']);
  const tail = [];
  for await (const r of readLogs(file, { tail: 1 })) tail.push(r.log);
  t.deepEqual(tail, ['€\n']);
  // follow ends once the container is no longer running and the file is drained
  await writeFile(file, JSON.stringify({ stream: 'stdout', time: '', log: 'more\n' }) + '\n', { flag: 'a' });
  const followed = [];
  for await (const r of readLogs(file, { follow: true, pollMs: 10, stillRunning: async () => false })) followed.push(r.log);
  t.is(followed.at(-1), 'more\n');
});
