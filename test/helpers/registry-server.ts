// Starts Debian's `docker-registry` (the CNCF distribution registry) on
// 127.0.0.1 with a free port and a temp storage dir, optionally behind
// htpasswd (bcrypt) basic auth, for tests that push and pull for real.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openStore } from '../../builder/store/open-store.js';
import { pushImage } from '../../builder/registry/index.js';
import { loadBusyboxImage } from '../../fixtures/base-images/load-busybox.js';
import { tempDir } from './temp-dirs.js';

export const REGISTRY_BINARY = '/usr/bin/docker-registry';

export interface RegistryServer {
  /** `127.0.0.1:PORT`, as image references name it. */
  host: string;
  port: number;
  storageDir: string;
  stop(): Promise<void>;
}

export interface RegistryServerOptions {
  /** Require these credentials (htpasswd basic auth). */
  auth?: { username: string; password: string };
}

/** Why registry tests cannot run here, or undefined when they can. */
export function registrySkipReason(): string | undefined {
  if (!existsSync(REGISTRY_BINARY)) return `${REGISTRY_BINARY} is missing (apt-get install docker-registry)`;
  return undefined;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

async function waitReady(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited with ${child.exitCode}: ${log()}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/v2/`);
      await res.arrayBuffer();
      if (res.status === 200 || res.status === 401) return;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  throw new Error(`docker-registry did not answer on port ${port}: ${log()}`);
}

export async function startRegistry(opts: RegistryServerOptions = {}): Promise<RegistryServer> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tsbuild-registry-'));
  const storageDir = path.join(dir, 'storage');
  await fs.mkdir(storageDir);
  const port = await freePort();
  const lines = [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${storageDir}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    `  secret: tsbuild-test-secret`,
  ];
  if (opts.auth) {
    // The registry only accepts bcrypt entries; -B makes htpasswd use it.
    const entry = execFileSync('htpasswd', ['-Bbn', opts.auth.username, opts.auth.password], { encoding: 'utf8' });
    const htpasswd = path.join(dir, 'htpasswd');
    await fs.writeFile(htpasswd, entry.trim() + '\n');
    lines.push('auth:', '  htpasswd:', '    realm: tsbuild-test', `    path: ${htpasswd}`);
  }
  const config = path.join(dir, 'config.yml');
  await fs.writeFile(config, lines.join('\n') + '\n');
  const child = spawn(REGISTRY_BINARY, ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  // A test worker that exits without running its after hooks must not leave a registry behind.
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-4000)));
  try {
    await waitReady(port, child, () => stderr);
  } catch (e) {
    child.kill('SIGKILL');
    await fs.rm(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    host: `127.0.0.1:${port}`,
    port,
    storageDir,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await Promise.race([exited, sleep(5000).then(() => child.kill('SIGKILL'))]);
      }
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

/** Run skopeo against a plain-HTTP test registry; --insecure-policy as the machine may lack policy.json. */
export function skopeo(...args: string[]): string {
  return execFileSync('skopeo', ['--insecure-policy', ...args], { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
}

export function haveSkopeo(): boolean {
  return existsSync('/usr/bin/skopeo');
}

export type ProxyRequestAction = 'forward' | 'error500' | 'hangup';
export type ProxyResponseAction = 'pass' | 'truncate' | 'corrupt' | 'trickle';

export interface ProxyRequestInfo {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  /** 1 for the first request the proxy sees. */
  n: number;
}

export interface ProxyHooks {
  onRequest?: (req: ProxyRequestInfo) => ProxyRequestAction;
  /** Only asked for bodies of successful (2xx) responses. */
  onResponse?: (req: ProxyRequestInfo, status: number, headers: http.IncomingHttpHeaders) => ProxyResponseAction;
}

export interface TestProxy {
  host: string;
  stop(): Promise<void>;
}

/**
 * A tiny HTTP proxy in front of a test registry that can answer 500, hang
 * up before answering, cut a response body in half (the Content-Length
 * stays, so the client sees a truncated body), flip a byte of it or
 * trickle it (one byte every 200 ms, a registry that stalls without ever
 * going quiet long enough for an idle timeout). The
 * Host header is forwarded unchanged so the registry's Location URLs point
 * back at the proxy.
 */
export async function startProxy(targetPort: number, hooks: ProxyHooks): Promise<TestProxy> {
  const agent = new http.Agent({ keepAlive: true });
  let n = 0;
  const server = http.createServer((req, res) => {
    const info: ProxyRequestInfo = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, n: ++n };
    const action = hooks.onRequest?.(info) ?? 'forward';
    if (action === 'hangup') {
      req.socket.destroy();
      return;
    }
    if (action === 'error500') {
      req.resume();
      req.on('end', () => {
        res.writeHead(500, { 'Content-Type': 'application/json' });
        res.end('{"errors":[{"code":"UNKNOWN","message":"injected failure"}]}');
      });
      return;
    }
    const upstream = http.request({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers, agent }, (up) => {
      const status = up.statusCode ?? 502;
      const body = status >= 200 && status < 300 && req.method === 'GET' ? (hooks.onResponse?.(info, status, up.headers) ?? 'pass') : 'pass';
      if (body === 'pass') {
        res.writeHead(status, up.headers);
        up.pipe(res);
        return;
      }
      const chunks: Buffer[] = [];
      up.on('data', (c: Buffer) => chunks.push(c));
      up.on('end', () => {
        const all = Buffer.concat(chunks);
        res.writeHead(status, up.headers);
        if (body === 'trickle') {
          let at = 0;
          const timer = setInterval(() => {
            if (at >= all.length) return;
            res.write(all.subarray(at, at + 1));
            at++;
          }, 200);
          res.on('close', () => clearInterval(timer));
        } else if (body === 'corrupt') {
          if (all.length > 0) all[all.length >> 1] ^= 0xff;
          res.end(all);
        } else {
          res.write(all.subarray(0, all.length >> 1), () => res.socket?.destroy());
        }
      });
    });
    upstream.on('error', () => res.socket?.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    host: `127.0.0.1:${port}`,
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      agent.destroy();
    },
  };
}

/** The busybox fixture image, pushed to `ref` (`host:port/repo:tag` of a test registry) from a throwaway store. */
export async function pushBusybox(ref: string): Promise<void> {
  const source = await tempDir('tsbuild-push-src-');
  await loadBusyboxImage('busybox:latest', source);
  const store = await openStore(source);
  await pushImage(store.content, store.images, 'busybox:latest', ref, { settings: { insecure: [], mirrors: {} } });
}
