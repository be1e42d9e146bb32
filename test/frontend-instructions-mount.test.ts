import test, { type ExecutionContext } from 'ava';
import { DockerfileError } from '../frontend/errors.js';
import { MountError, parseDockerfile, parseMount } from '../frontend/instructions/index.js';
import type { RunInstruction, RunMount } from '../frontend/instructions/index.js';

function mountsOf(flags: string): readonly RunMount[] {
  const run = parseDockerfile(`FROM a\nRUN ${flags} true\n`).stages[0]!.instructions[0] as RunInstruction;
  return run.mounts;
}

function rejectsMount(t: ExecutionContext, value: string, message: RegExp): void {
  const err = t.throws(() => parseMount(value), undefined, value);
  t.true(err instanceof MountError, value);
  t.regex(err!.message, message, value);
}

test('bind mount: defaults to type bind, read-only', (t) => {
  const [m] = mountsOf('--mount=target=/src');
  t.like(m, { type: 'bind', target: '/src', readOnly: true, required: false, needsExpansion: false });
});

test('bind mount: source/src, from, rw/readwrite, target aliases', (t) => {
  t.like(parseMount('type=bind,source=a,target=/b,rw'), { source: 'a', target: '/b', readOnly: false });
  t.like(parseMount('type=bind,src=a,dst=/b,readwrite=true'), { source: 'a', target: '/b', readOnly: false });
  t.like(parseMount('type=bind,from=build,destination=/b,ro=false'), { from: 'build', target: '/b', readOnly: false });
  t.like(parseMount('type=BIND,target=/b,readonly'), { type: 'bind', readOnly: true });
  t.like(parseMount('type=bind,target=/b,rw=0'), { readOnly: true });
});

test('cache mount: id, sharing, mode/uid/gid, read-write by default', (t) => {
  const m = parseMount('type=cache,target=/root/.cache,id=pip,sharing=locked,mode=0700,uid=1000,gid=100,from=base,source=/c');
  t.like(m, {
    type: 'cache',
    target: '/root/.cache',
    id: 'pip',
    sharing: 'locked',
    mode: 0o700,
    uid: 1000,
    gid: 100,
    readOnly: false,
    from: 'base',
    source: '/c',
  });
  t.is(parseMount('type=cache,target=/x,sharing=Private').sharing, 'private');
  t.is(parseMount('type=cache,target=/x,sharing=shared').sharing, 'shared');
});

test('tmpfs mount: size in bytes with binary units', (t) => {
  t.like(parseMount('type=tmpfs,target=/tmp,size=64m'), { type: 'tmpfs', sizeLimit: 64 * 1024 * 1024, readOnly: false });
  t.is(parseMount('type=tmpfs,target=/t,size=1GiB').sizeLimit, 1024 ** 3);
  t.is(parseMount('type=tmpfs,target=/t,size=100').sizeLimit, 100);
  t.is(parseMount('type=tmpfs,target=/t,size=1.5k').sizeLimit, 1536);
});

test('secret mount: id, target, env, required, mode/uid/gid', (t) => {
  t.like(parseMount('type=secret,id=npmrc,target=/root/.npmrc,required,mode=0400,uid=1,gid=2'), {
    type: 'secret',
    id: 'npmrc',
    target: '/root/.npmrc',
    required: true,
    mode: 0o400,
    uid: 1,
    gid: 2,
    readOnly: true,
  });
  t.like(parseMount('type=secret,id=tok,env=TOKEN'), { id: 'tok', env: 'TOKEN' });
  t.like(parseMount('type=secret,source=s,required=false'), { source: 's', required: false });
});

test('ssh mount: needs nothing, accepts id, target, required', (t) => {
  t.like(parseMount('type=ssh'), { type: 'ssh', readOnly: true, required: false });
  t.like(parseMount('type=ssh,id=github,target=/agent.sock,required=true'), { id: 'github', target: '/agent.sock', required: true });
});

test('CSV quoting: a quoted field may hold commas', (t) => {
  t.like(parseMount('type=bind,"source=a,b",target=/c'), { source: 'a,b', target: '/c' });
  t.like(parseMount('type=bind,"source=say ""hi""",target=/c'), { source: 'say "hi"' });
  // The flag word itself is unquoted by the Dockerfile parser first, as BuildKit does.
  const [m] = mountsOf(`--mount='type=bind,"source=a,b",target=/c'`);
  t.is(m!.source, 'a,b');
  const [escaped] = mountsOf('--mount="type=bind,\\"source=x,y\\",target=/c"');
  t.is(escaped!.source, 'x,y');
});

test('CSV errors', (t) => {
  rejectsMount(t, 'type=bind,"source=a', /failed to parse csv/);
  rejectsMount(t, 'type=bind,source="a"', /bare "/);
  rejectsMount(t, 'type=bind,"source=a"x,target=/c', /extraneous or missing "/);
});

test('invalid mount options', (t) => {
  rejectsMount(t, 'type=volume,target=/x', /unsupported mount type "volume"/);
  rejectsMount(t, 'type=cahce,target=/x', /did you mean cache/);
  rejectsMount(t, 'type=cache,target=/x,sharing=everyone', /unsupported sharing value/);
  rejectsMount(t, 'type=bind,target=/x,sharing=locked', /invalid cache sharing set for bind mount/);
  rejectsMount(t, 'type=cache,target=/x,mode=999', /invalid value for mode/);
  rejectsMount(t, 'type=cache,target=/x,uid=-1', /invalid value for uid/);
  rejectsMount(t, 'type=cache,target=/x,gid=x', /invalid value for gid/);
  rejectsMount(t, 'type=bind,target=/x,mode=0755', /mode not allowed for "bind"/);
  rejectsMount(t, 'type=tmpfs,target=/x,uid=1', /uid not allowed for "tmpfs"/);
  rejectsMount(t, 'type=cache,target=/x,size=1m', /unexpected key 'size' for mount type 'cache'/);
  rejectsMount(t, 'type=tmpfs,target=/x,size=lots', /invalid value for size/);
  rejectsMount(t, 'type=bind,target=/x,required', /unexpected key 'required' for mount type 'bind'/);
  rejectsMount(t, 'type=bind,target=/x,ro=maybe', /invalid value for ro/);
  rejectsMount(t, 'type=bind,target=/x,colour=red', /unexpected key 'colour'/);
  rejectsMount(t, 'type=bind,target=/x,targte=/y', /did you mean target/);
  rejectsMount(t, 'type=bind,target=/x,nonsense', /must be a key=value pair/);
  rejectsMount(t, 'type=secret,from=x,id=a', /secret mount should not have a from/);
  rejectsMount(t, 'type=secret,id=a,sharing=shared', /should not define sharing/);
  rejectsMount(t, 'type=secret', /one of source, target required/);
  rejectsMount(t, 'type=secret,source=a,id=b', /both source and id/);
  rejectsMount(t, 'type=cache', /requires a target/);
  rejectsMount(t, 'type=bind,source=a', /requires a target/);
});

test('variables: fields holding $ are left for later, cross checks skipped', (t) => {
  const m = parseMount('type=cache,target=$DIR,id=${ID},mode=0755');
  t.true(m.needsExpansion);
  t.is(m.target, undefined);
  t.is(m.mode, 0o755);
  // A variable type skips type-dependent checks until expansion.
  t.true(parseMount('type=$T,target=/x,mode=0755').needsExpansion);
  // Unknown keys are still unknown.
  rejectsMount(t, 'type=cache,bogus=$X', /unexpected key 'bogus'/);
  // Values without $ are still checked.
  rejectsMount(t, 'type=cache,target=$D,sharing=nope', /unsupported sharing/);
});

test('variables: from does not support expansion (except a trailing $)', (t) => {
  rejectsMount(t, 'type=bind,from=$STAGE,target=/x', /doesn't support variable expansion/);
  t.is(parseMount('type=bind,from=stage$,target=/x').from, 'stage$');
});

test('variables: re-parsing with an expander validates everything', (t) => {
  const env: Record<string, string> = { DIR: '/cache', T: 'tmpfs', SIZE: '1k' };
  const expand = (w: string) => w.replace(/\$\{?(\w+)\}?/g, (_, n: string) => env[n] ?? '');
  t.like(parseMount('type=cache,target=$DIR', expand), { target: '/cache', needsExpansion: false });
  t.like(parseMount('type=$T,target=/t,size=$SIZE', expand), { type: 'tmpfs', sizeLimit: 1024 });
  t.throws(() => parseMount('type=$T,target=/x,mode=0755', expand), { message: /mode not allowed for "tmpfs"/ });
});

test('mount errors in a Dockerfile carry the location', (t) => {
  const err = t.throws(() => parseDockerfile('FROM a\nRUN --network=none --mount=type=cache true\n', { file: 'Dockerfile' }));
  t.true(err instanceof DockerfileError);
  const e = err as DockerfileError;
  t.is(e.code, 'MISSING_ARGUMENT');
  t.is(e.location?.line, 2);
  t.is(e.location?.col, 20);
});

test('several --mount flags are kept in order', (t) => {
  const mounts = mountsOf('--mount=type=cache,target=/a --mount=type=secret,id=s --mount=type=ssh');
  t.deepEqual(mounts.map((m) => m.type), ['cache', 'secret', 'ssh']);
  t.deepEqual(mounts.map((m) => m.raw), ['type=cache,target=/a', 'type=secret,id=s', 'type=ssh']);
});
