// A real `tsbuild serve` for tests: started on the addresses given, against
// a test store, stopped with SIGTERM (then SIGKILL) when the test is done.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { PROJECT_ROOT, TSBUILD_BIN } from './paths.js';

export interface TestServer {
  child: ChildProcess;
  addresses: string[];
  /** Everything the server printed on stderr so far. */
  log(): string;
  stop(): Promise<number | null>;
}

export async function startServe(root: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<TestServer> {
  const child = spawn(process.execPath, [TSBUILD_BIN, 'serve', ...args], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env, TSBUILD_ROOT: root },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let text = '';
  const expected = Math.max(1, args.filter((a) => a === '--addr').length);
  const addresses = await new Promise<string[]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${text}`)), 30_000);
    child.stderr!.on('data', (d: Buffer) => {
      text += d.toString();
      const found = [...text.matchAll(/serving on (\S+)/g)].map((m) => m[1]!);
      if (found.length >= expected) {
        clearTimeout(timer);
        resolve(found);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited ${code}:\n${text}`));
    });
  });
  return {
    child,
    addresses,
    log: () => text,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        const kill = setTimeout(() => child.kill('SIGKILL'), 30_000);
        child.once('exit', (code) => {
          clearTimeout(kill);
          resolve(code);
        });
        child.kill('SIGTERM');
      }),
  };
}

/** A unix socket in front of `target` that counts the bytes clients send through it. */
export function countingProxy(listen: string, target: string): Promise<{ sent(): number; close(): void }> {
  let sent = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((c) => {
    const up = net.connect(target);
    sockets.add(c).add(up);
    c.on('data', (d) => (sent += d.length));
    c.pipe(up);
    up.pipe(c);
    c.on('error', () => up.destroy());
    up.on('error', () => c.destroy());
  });
  return new Promise((resolve) => server.listen(listen, () => resolve({
    sent: () => sent,
    close: () => {
      server.close();
      for (const s of sockets) s.destroy();
    },
  })));
}

/**
 * A RUN that prints `running-<nonce>` and holds until the test opens its
 * gate: it loops until a file appears in its cache mount, which lives in
 * the server's store (`storeRoot`), so the test decides when it ends.
 */
export function gatedRun(storeRoot: string, nonce: string) {
  const id = `gate-${nonce}`;
  const dir = path.join(storeRoot, 'cache-mounts', createHash('sha256').update(id).digest('hex').slice(0, 32));
  const run = `RUN --mount=type=cache,id=${id},target=/gate sh -c 'echo running-${nonce}; while [ ! -e /gate/open ]; do sleep 0.1; done; echo shared-${nonce} > /shared.txt'`;
  return { run, marker: `id=${id}`, open: () => writeFile(path.join(dir, 'open'), ''), opened: () => existsSync(path.join(dir, 'open')) };
}
