// A git repository served over loopback HTTP for tests: Node's http server
// hands each request to `git http-backend` (git's own smart-HTTP CGI
// program), so clones and fetches talk the real protocol.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { tempDir } from './temp-dirs.js';

const HTTP_BACKEND = '/usr/lib/git-core/git-http-backend';

export function gitSkipReason(): string | undefined {
  try {
    execFileSync('git', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'needs git (apt-get install git)';
  }
  return existsSync(HTTP_BACKEND) ? undefined : `needs ${HTTP_BACKEND} (Debian package git)`;
}

export interface GitServer {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** Bare repositories live here, as `<name>.git`. */
  root: string;
  stop(): Promise<void>;
}

const GIT_ENV = { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com', GIT_CONFIG_NOSYSTEM: '1', HOME: '/nonexistent' };

export function git(args: string[], cwd?: string): string {
  return execFileSync('git', args, { cwd, env: { ...process.env, ...GIT_ENV }, encoding: 'utf8' });
}

/** Makes `<root>/<name>.git` from files (one commit per entry of `commits`, each tagged if named); returns the commit ids. */
export async function makeRepo(server: GitServer, name: string, commits: { files: Record<string, string>; tag?: string }[]): Promise<string[]> {
  const work = await tempDir('tsbuild-gitwork-');
  git(['init', '-q', '-b', 'main', work]);
  const ids: string[] = [];
  for (const c of commits) {
    for (const [rel, content] of Object.entries(c.files)) {
      await mkdir(path.dirname(path.join(work, rel)), { recursive: true });
      await writeFile(path.join(work, rel), content);
    }
    git(['add', '-A'], work);
    git(['commit', '-q', '-m', `commit ${ids.length + 1}`], work);
    if (c.tag) git(['tag', c.tag], work);
    ids.push(git(['rev-parse', 'HEAD'], work).trim());
  }
  git(['clone', '-q', '--bare', work, path.join(server.root, `${name}.git`)]);
  return ids;
}

export async function startGitServer(): Promise<GitServer> {
  const root = await tempDir('tsbuild-gitroot-');
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const cgi = spawn(HTTP_BACKEND, [], {
      env: {
        ...process.env,
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: '1',
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        REQUEST_METHOD: req.method ?? 'GET',
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        HTTP_CONTENT_ENCODING: req.headers['content-encoding'] ?? '',
        HTTP_GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
        REMOTE_ADDR: '127.0.0.1',
      },
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    req.pipe(cgi.stdin);
    // CGI output: headers (Status: among them), a blank line, the body.
    let head = Buffer.alloc(0);
    let headersDone = false;
    cgi.stdout.on('data', (chunk: Buffer) => {
      if (headersDone) return void res.write(chunk);
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      headersDone = true;
      let status = 200;
      for (const line of head.subarray(0, end).toString().split('\r\n')) {
        const colon = line.indexOf(':');
        const key = line.slice(0, colon).trim();
        const value = line.slice(colon + 1).trim();
        if (key.toLowerCase() === 'status') status = parseInt(value, 10);
        else res.setHeader(key, value);
      }
      res.writeHead(status);
      res.write(head.subarray(end + 4));
    });
    cgi.on('close', () => res.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, root, stop: () => new Promise((resolve) => server.close(() => resolve())) };
}
