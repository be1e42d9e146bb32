// The memo question on a raw connection (protocol v6, remote/memo-wire.ts
// and server/memo-wire.ts): a no-op rebuild through a unix socket is
// answered before any HTTP/2, a changed context still builds, an older
// server (HTTP/2 only) and an older client still work, and malformed
// questions end only their own connection. A proxy in front of the server
// records how each connection of the client starts.
import http2 from 'node:http2';
import net from 'node:net';
import path from 'node:path';
import { readFile, writeFile } from 'node:fs/promises';
import { RACY_MARGIN_MS } from '../cache/checksum-cache.js';
import { tsbuild, tempDir } from './helpers/cli.js';
import { serverSuite } from './helpers/server-suite.js';
import { makeContext } from './e2e-image-helpers.js';

const suite = serverSuite('server memo on a raw connection', [], { TSBUILD_SERVE_DEBUG: '1' });
const { it } = suite;

const STAMP = 'RUN head -c 16 /dev/urandom | od -An -tx1 > /stamp && echo';
const MAGIC = 'TSBMEMO1';
const HTTP2_PREFACE = 'PRI * HTTP/2.0';
const answers = (raw: boolean) => (suite.server.log().match(raw ? /answered from the memo of an identical build \(on a raw connection\)/g : /answered from the memo of an identical build\n/g) ?? []).length;

let clientRoot = '';
async function remote(host: string, args: string[]) {
  clientRoot ||= await tempDir('tsbuild-client-');
  return tsbuild(['--host', host, ...args], { root: clientRoot });
}

async function context(dockerfile: string): Promise<string> {
  const ctx = await makeContext({ Dockerfile: dockerfile, 'app.txt': 'app\n' });
  // Files older than the client's racy margin: rebuilds send the manifest digest alone.
  await new Promise((r) => setTimeout(r, RACY_MARGIN_MS + 200));
  return ctx;
}

/** Three identical builds straight to the server: the third is answered from its memo. Returns the image id. */
async function memoized(ctx: string, args: string[]): Promise<string> {
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await remote(suite.host, ['build', '-q', ...args, ctx]);
    if (r.code !== 0) throw new Error(`build failed (${r.code}): ${r.stderr}`);
    ids.push(r.stdout.trim());
  }
  if (new Set(ids).size !== 1) throw new Error(`a no-op rebuild changed the image: ${ids.join(' ')}`);
  return ids[0]!;
}

/**
 * A unix socket in front of the server that records the first bytes of
 * each connection. `olderServer`: a connection that starts with the raw
 * question goes to a bare node:http2 server instead, which is what a v5
 * tsbuild server's listener does with those bytes.
 */
async function proxy(olderServer = false): Promise<{ host: string; starts: string[]; close(): void }> {
  const listen = path.join(await tempDir('tsbuild-proxy-'), 'proxy.sock');
  const target = suite.host.slice('unix://'.length);
  const starts: string[] = [];
  const sockets = new Set<net.Socket>();
  const bare = http2.createServer();
  bare.on('sessionError', () => undefined);
  const server = net.createServer((c) => {
    sockets.add(c);
    c.on('error', () => undefined);
    c.once('data', (first: Buffer) => {
      starts.push(first.toString('latin1', 0, 16));
      c.pause();
      c.unshift(first);
      if (olderServer && first.toString('latin1', 0, MAGIC.length) === MAGIC) {
        bare.emit('connection', c);
        return;
      }
      const up = net.connect(target);
      sockets.add(up);
      up.on('error', () => c.destroy());
      c.on('close', () => up.destroy());
      c.pipe(up);
      up.pipe(c);
      c.resume();
    });
  });
  await new Promise<void>((resolve) => server.listen(listen, resolve));
  return {
    host: `unix://${listen}`,
    starts,
    close: () => {
      server.close();
      for (const s of sockets) s.destroy();
    },
  };
}

/** One raw question, by hand: the server's answer frame's payload, or undefined when it closed without one. */
function askRaw(payload: Buffer | string, length?: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const body = Buffer.from(payload);
    const head = Buffer.alloc(12);
    head.write(MAGIC, 0, 'latin1');
    head.writeUInt32BE(length ?? body.length, 8);
    const s = net.connect(suite.host.slice('unix://'.length));
    let got = Buffer.alloc(0);
    s.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
    s.on('error', () => undefined);
    s.on('close', () => {
      const framed = got.length >= 12 && got.toString('latin1', 0, 8) === MAGIC && got.length === 12 + got.readUInt32BE(8);
      resolve(framed ? got.toString('utf8', 12) : undefined);
    });
    s.write(Buffer.concat([head, body]));
    // A question the server cannot finish reading: it must not wait for ever on the client.
    if (length !== undefined && length > body.length) setTimeout(() => s.end(), 200);
  });
}

it('a no-op rebuild is answered on a raw connection, without HTTP/2, with the progress of a real build', async (t) => {
  const ctx = await context(`FROM busybox:latest\nCOPY app.txt /app.txt\n${STAMP} wire\n`);
  const id = await memoized(ctx, ['-t', 'wire-a:latest']);
  const p = await proxy();
  t.teardown(() => p.close());
  const before = answers(true);
  const r = await remote(p.host, ['build', '--progress', 'plain', '--iidfile', path.join(await tempDir(), 'iid'), '-t', 'wire-a:latest', ctx]);
  t.is(r.code, 0, r.stderr);
  t.is(answers(true), before + 1);
  // One connection, the question's: no HTTP/2 preface was ever sent.
  t.deepEqual(p.starts.map((s) => s.slice(0, MAGIC.length)), [MAGIC]);
  t.regex(r.stderr, /transferring context: 0B/);
  t.regex(r.stderr, /RUN head -c 16[^\n]*\n#\d+ CACHED/);
  t.regex(r.stderr, new RegExp(`writing image ${id} done`));
  t.regex(r.stderr, /naming to docker.io\/library\/wire-a:latest done/);
  const quiet = await remote(p.host, ['build', '-q', '-t', 'wire-a:latest', ctx]);
  t.is(quiet.stdout.trim(), id);
});

it('an edited file after the answer was asked for: the answer is dropped and the build is real', async (t) => {
  const ctx = await context(`FROM busybox:latest\nCOPY app.txt /app.txt\n${STAMP} wire-edit\n`);
  const id = await memoized(ctx, ['-t', 'wire-edit:latest']);
  await writeFile(path.join(ctx, 'app.txt'), 'edited\n');
  const p = await proxy();
  t.teardown(() => p.close());
  const r = await remote(p.host, ['build', '-q', '-t', 'wire-edit:latest', ctx]);
  t.is(r.code, 0, r.stderr);
  t.not(r.stdout.trim(), id);
  // The question went first, the build then over HTTP/2.
  t.deepEqual(p.starts.map((s) => s.slice(0, MAGIC.length)), [MAGIC, HTTP2_PREFACE.slice(0, MAGIC.length)]);
  const dest = path.join(await tempDir(), 'out');
  const local = await remote(suite.host, ['build', '-q', '-o', `type=local,dest=${dest}`, ctx]);
  t.is(local.code, 0, local.stderr);
  t.is(await readFile(path.join(dest, 'app.txt'), 'utf8'), 'edited\n');
});

it('a build whose last argument is another context directory checks its own context, not that one', async (t) => {
  // The client starts its check on the context the last argument most likely is, and keeps it only if the flags agree.
  const other = await context(`FROM busybox:latest\nCOPY app.txt /app.txt\n${STAMP} wire-other\n`);
  await writeFile(path.join(other, 'app.txt'), 'other\n');
  await new Promise((r) => setTimeout(r, RACY_MARGIN_MS + 200));
  await memoized(other, ['-t', 'wire-other:latest']);
  const ctx = await context(`FROM busybox:latest\nCOPY app.txt /app.txt\n${STAMP} wire-own\n`);
  for (let i = 0; i < 2; i++) {
    const dest = path.join(await tempDir(), 'out');
    // A build arg without a value is taken from the environment: any word is accepted, here the other context's path.
    const r = await remote(suite.host, ['build', '-q', '-o', `type=local,dest=${dest}`, ctx, '--build-arg', other]);
    t.is(r.code, 0, r.stderr);
    t.is(await readFile(path.join(dest, 'app.txt'), 'utf8'), 'app\n');
  }
});

it('an older server that only speaks HTTP/2: the client falls back and gets the memo over HTTP/2', async (t) => {
  const ctx = await context(`FROM busybox:latest\n${STAMP} wire-old\n`);
  const id = await memoized(ctx, ['-t', 'wire-old:latest']);
  const p = await proxy(true);
  t.teardown(() => p.close());
  const [raw, http] = [answers(true), answers(false)];
  const r = await remote(p.host, ['build', '-q', '-t', 'wire-old:latest', ctx]);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout.trim(), id);
  t.deepEqual(p.starts.map((s) => s.slice(0, MAGIC.length)), [MAGIC, HTTP2_PREFACE.slice(0, MAGIC.length)]);
  t.is(answers(true), raw);
  t.is(answers(false), http + 1);
});

it('an older client, HTTP/2 only and without v6, is served as before', async (t) => {
  const session = http2.connect('http://tsbuild', { createConnection: () => net.connect(suite.host.slice('unix://'.length)) });
  t.teardown(() => session.close());
  const req = session.request({ ':method': 'GET', ':path': '/v1/hello', 'tsbuild-protocol': '2,3,4,5' });
  req.end();
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (d: string) => (body += d));
  const status = await new Promise<number>((resolve) => req.on('response', (h) => resolve(Number(h[':status']))));
  await new Promise((resolve) => req.on('end', resolve));
  t.is(status, 200);
  t.true((JSON.parse(body) as { protocols: number[] }).protocols.includes(6));
  const version = await remote(suite.host, ['version']);
  t.regex(version.stdout, /protocol v6\)/);
});

it('malformed raw questions end only their own connection', async (t) => {
  const header = (s: string | undefined) => (s === undefined ? undefined : JSON.parse(s.split('\n')[0]!) as { answer: string; protocol: number; reason?: string });
  t.like(header(await askRaw('not json')), { answer: 'miss', reason: 'malformed question' });
  t.like(header(await askRaw(JSON.stringify({ protocols: [2, 3, 4, 5, 6], request: { contextId: 'x' } }))), { answer: 'miss' });
  t.like(header(await askRaw(JSON.stringify({ protocols: [99], request: {} }))), { answer: 'miss', protocol: 0, reason: 'no shared protocol version' });
  // Larger than any message may be, or cut short: closed without an answer.
  t.is(await askRaw('{}', 0xffffffff), undefined);
  t.is(await askRaw('{"protocols":', 1000), undefined);
  const ctx = await context(`FROM busybox:latest\nRUN echo still-serving\n`);
  const r = await remote(suite.host, ['build', '-q', ctx]);
  t.is(r.code, 0, r.stderr);
});
