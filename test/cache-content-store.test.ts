import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { ContentStore } from '../cache/content-store.js';
import { digestOf, hexOf, isDigest, toDigest } from '../cache/digest.js';
import { isCacheError } from '../cache/errors.js';

// Every temp dir of this file lives under one root, removed at the end.
const testRoot = mkdtempSync(path.join(os.tmpdir(), 'tsbuild-cache-test-'));
test.after.always(() => rmSync(testRoot, { recursive: true, force: true }));

const storeModule = fileURLToPath(new URL('../cache/content-store.js', import.meta.url));

async function tempStore(): Promise<ContentStore> {
  return new ContentStore(await fs.mkdtemp(path.join(testRoot, 'tsbuild-cs-')));
}

async function tmpFiles(store: ContentStore): Promise<string[]> {
  return fs.readdir(store.tempDir()).catch(() => []);
}

test('digest helpers validate and format', (t) => {
  const d = digestOf('hello');
  t.is(d as string, 'sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824');
  t.true(isDigest(d));
  t.is(hexOf(d), d.slice(7));
  t.false(isDigest('sha256:ABC'));
  const err = t.throws(() => toDigest('md5:abc'));
  t.true(isCacheError(err, 'INVALID_DIGEST'));
});

test('putBuffer stores under blobs/sha256/<hex> and reads back verified', async (t) => {
  const store = await tempStore();
  const d = await store.putBuffer('content');
  t.is(d, digestOf('content'));
  t.is(store.path(d), path.join(store.root, 'blobs', 'sha256', hexOf(d)));
  t.true(await store.has(d));
  t.is(await store.size(d), 7);
  t.is((await store.readBuffer(d)).toString(), 'content');
  // Writing the same blob again is a no-op that still succeeds.
  t.is(await store.putBuffer(Buffer.from('content'), d), d);
  const listed = [];
  for await (const x of store.list()) listed.push(x);
  t.deepEqual(listed, [d]);
  await store.delete(d);
  t.false(await store.has(d));
  t.deepEqual(await tmpFiles(store), []);
});

test('an expected digest that does not match is refused and leaves nothing behind', async (t) => {
  const store = await tempStore();
  const wrong = digestOf('other');
  const e1 = await t.throwsAsync(store.putBuffer('content', wrong));
  t.true(isCacheError(e1, 'DIGEST_MISMATCH'));
  const e2 = await t.throwsAsync(store.putStream(Readable.from([Buffer.from('content')]), wrong));
  t.true(isCacheError(e2, 'DIGEST_MISMATCH'));
  t.false(await store.has(digestOf('content')));
  t.false(await store.has(wrong));
  t.deepEqual(await tmpFiles(store), []);
});

test('putStream hashes while writing; putFile moves a file in', async (t) => {
  const store = await tempStore();
  const chunks = [randomBytes(100_000), randomBytes(3), randomBytes(70_000)];
  const whole = Buffer.concat(chunks);
  const { digest, size } = await store.putStream(Readable.from(chunks), digestOf(whole));
  t.is(digest, digestOf(whole));
  t.is(size, whole.length);
  t.true(whole.equals(await store.readBuffer(digest)));

  const tmp = await store.newTempPath('test');
  await fs.writeFile(tmp, 'from a file');
  const put = await store.putFile(tmp);
  t.is(put.digest, digestOf('from a file'));
  await t.throwsAsync(fs.access(tmp));
  const mode = (await fs.stat(store.path(put.digest))).mode & 0o777;
  t.is(mode, 0o444, 'blobs are read-only');
});

test('corruption is detected on read', async (t) => {
  const store = await tempStore();
  const data = randomBytes(50_000);
  const d = await store.putBuffer(data);
  const p = store.path(d);
  await fs.chmod(p, 0o644);
  const fh = await fs.open(p, 'r+');
  // Flip the byte's bits: writing a fixed byte left a random blob unchanged 1 time in 256.
  await fh.write(Buffer.from([data[1000]! ^ 0xff]), 0, 1, 1000);
  await fh.close();
  const e1 = await t.throwsAsync(store.readBuffer(d));
  t.true(isCacheError(e1, 'CORRUPT_BLOB'));
  const e2 = await t.throwsAsync(async () => {
    for await (const _ of store.openRead(d)) { /* drain */ }
  });
  t.true(isCacheError(e2, 'CORRUPT_BLOB'));
  const e3 = await t.throwsAsync(store.readBuffer(digestOf('absent')));
  t.true(isCacheError(e3, 'BLOB_NOT_FOUND'));
});

test('openRead streams a good blob', async (t) => {
  const store = await tempStore();
  const data = randomBytes(3 << 20);
  const d = await store.putBuffer(data);
  const parts: Buffer[] = [];
  for await (const c of store.openRead(d)) parts.push(c as Buffer);
  t.true(Buffer.concat(parts).equals(data));
});

/** Runs a node child that imports the store; resolves with its exit code/signal. */
function child(code: string, onStdout?: (s: string, kill: () => void) => void) {
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    const p = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (b) => (stderr += b));
    p.stdout.on('data', (b) => onStdout?.(String(b), () => p.kill('SIGKILL')));
    p.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
}

test('two processes writing the same blobs at once both succeed', async (t) => {
  const store = await tempStore();
  // Deterministic contents so both writers produce the same 40 blobs.
  const script = `
    import { ContentStore } from ${JSON.stringify(storeModule)};
    import { createHash } from 'node:crypto';
    const store = new ContentStore(${JSON.stringify(store.root)});
    const jobs = [];
    for (let i = 0; i < 40; i++) {
      const seed = createHash('sha256').update('blob' + i).digest();
      const data = Buffer.concat(Array.from({ length: 2000 + i * 500 }, () => seed));
      jobs.push(i % 2 ? store.putBuffer(data) : store.putStream((async function* () { for (let o = 0; o < data.length; o += 7919) yield data.subarray(o, o + 7919); })()));
    }
    await Promise.all(jobs);
  `;
  const [a, b] = await Promise.all([child(script), child(script)]);
  t.is(a.code, 0, a.stderr);
  t.is(b.code, 0, b.stderr);
  let n = 0;
  for await (const d of store.list()) {
    await store.readBuffer(d); // verifies
    n++;
  }
  t.is(n, 40);
  t.deepEqual(await tmpFiles(store), []);
});

test('kill -9 during a write leaves no blob under its final name; cleanTemp removes the rest', async (t) => {
  const store = await tempStore();
  const chunk = createHash('sha256').update('x').digest();
  const whole = Buffer.concat(Array.from({ length: 2000 }, () => chunk));
  const script = `
    import { ContentStore } from ${JSON.stringify(storeModule)};
    const store = new ContentStore(${JSON.stringify(store.root)});
    const chunk = Buffer.from(${JSON.stringify(chunk.toString('hex'))}, 'hex');
    await store.putStream((async function* () {
      for (let i = 0; i < 2000; i++) {
        yield chunk;
        if (i === 1000) { console.log('half'); await new Promise((r) => setTimeout(r, 60_000)); }
      }
    })());
  `;
  const r = await child(script, (s, kill) => { if (s.includes('half')) setTimeout(kill, 100); });
  t.is(r.signal, 'SIGKILL');
  t.false(await store.has(digestOf(whole)));
  const left = await tmpFiles(store);
  t.is(left.length, 1, 'the partial temp file is still there');
  await store.cleanTemp(); // default age: a fresh temp file is kept
  t.is((await tmpFiles(store)).length, 1);
  await store.cleanTemp(0);
  t.deepEqual(await tmpFiles(store), []);
});

test('adoptFile moves a file hashed while written without re-reading it, and refuses a short file', async (t) => {
  const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
  const os = await import('node:os');
  const pathMod = await import('node:path');
  const { ContentStore } = await import('../cache/content-store.js');
  const { digestOf } = await import('../cache/digest.js');
  const root = await mkdtemp(pathMod.join(os.tmpdir(), 'cs-adopt-'));
  try {
    const store = new ContentStore(root);
    const data = Buffer.from('layer bytes');
    const tmp = await store.newTempPath('t');
    await writeFile(tmp, data);
    const d = digestOf(data);
    t.deepEqual(await store.adoptFile(tmp, d, data.length), { digest: d, size: data.length });
    t.deepEqual(await store.readBuffer(d), data);
    const short = await store.newTempPath('t');
    await writeFile(short, data.subarray(0, 3));
    await t.throwsAsync(store.adoptFile(short, digestOf(Buffer.from('other')), data.length), { message: /3 bytes, 11 were written/ });
    // The same blob again (a step that made the same layer): the stored one stays, the temp file goes.
    const again = await store.newTempPath('t');
    await writeFile(again, data);
    t.deepEqual(await store.adoptFile(again, d, data.length), { digest: d, size: data.length });
    await t.throwsAsync(import('node:fs/promises').then((f) => f.access(again)), { code: 'ENOENT' });
    t.deepEqual(await store.readBuffer(d), data);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
