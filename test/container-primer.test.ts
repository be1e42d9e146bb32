// The primer's hands-on exercise (shared/reference/containers-primer.txt),
// word for word with `tsbuild` in place of `docker`, in a shell, against
// an nginx-like image built from fixtures/projects/web (busybox httpd
// serving on port 80, tagged nginx:alpine).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from './helpers/cli.js';
import { tempDir } from './helpers/temp-dirs.js';
import { containerSuite } from './container-helpers.js';
import { runIf, type Declare } from './helpers/skip.js';

const s = await containerSuite('tsbuild-primer-');
const sh = promisify(execFile);

const PRIMER = `
echo 'FROM nginx:alpine' > Dockerfile
tsbuild build -t my-nginx:v1 .
tsbuild run -d -p 8080:80 my-nginx:v1
for i in 1 2 3 4 5 6 7 8 9 10; do curl -sf http://localhost:8080 >/dev/null && break; sleep 0.2; done
curl http://localhost:8080
tsbuild history my-nginx:v1
`;

// Read synchronously from /proc (ava wants every test declared before the
// first real I/O callback): a socket listening on the port, IPv4 or IPv6.
function portListening(port: number): boolean {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return ['/proc/net/tcp', '/proc/net/tcp6'].some((f) => {
    try {
      return readFileSync(f, 'utf8').split('\n').slice(1).some((l) => {
        const cols = l.trim().split(/\s+/);
        return cols[1]?.endsWith(hex) && cols[3] === '0A';
      });
    } catch {
      return false;
    }
  });
}

// Decided at declaration time, so a taken port shows as a skip, never as a pass.
const portTaken = !portListening(8080) ? undefined : 'port 8080 is taken on this machine: the exercise needs it as written';

runIf(portTaken, s.e2e as Declare)('the primer exercise runs word for word with tsbuild for docker', async (t) => {
  t.is((await s.cli('build', '-q', '-t', 'nginx:alpine', path.join(PROJECT_ROOT, 'fixtures/projects/web'))).code, 0);
  const dir = await tempDir('tsbuild-primer-ex-');
  const bin = await tempDir('tsbuild-primer-bin-');
  await sh('sh', ['-c', `printf '#!/bin/sh\\nexec "${process.execPath}" "${path.join(PROJECT_ROOT, 'bin/tsbuild.js')}" "$@"\\n' > ${bin}/tsbuild && chmod +x ${bin}/tsbuild`]);
  try {
    const { stdout } = await sh('bash', ['-ec', PRIMER], { cwd: dir, env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, TSBUILD_ROOT: s.root } });
    t.regex(stdout, /^[0-9a-f]{64}$/m, 'run -d prints the container id');
    t.regex(stdout, /<h1>/i, 'curl gets the page busybox httpd serves');
    t.regex(stdout, /^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$/m);
    t.regex(stdout, /CMD \["httpd"/);
  } finally {
    const ids = (await s.cli('ps', '-q')).stdout.split('\n').filter(Boolean);
    if (ids.length) await s.cli('rm', '-f', ...ids);
  }
});
