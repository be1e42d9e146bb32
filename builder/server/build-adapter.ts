// The one place where a remote build request becomes a build. It runs the
// CLI's own `build` in a child process against the server's store, with
// progress as rawjson records, outputs written to server-side temp paths
// that are then streamed back, and SIGINT for cancellation.
import { spawn } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { LineSplitter } from '../progress/line-splitter.js';
import { packageRoot } from '../../runner-native/package-root.js';
import type { BuildRequest } from '../remote/protocol.js';
import type { BuildSession } from './build-session.js';
import type { ServeSettings } from './server-context.js';

export interface AdapterResult {
  exitCode: number;
  imageId?: string;
  metadata?: Record<string, unknown>;
}

/** Quotes a value for docker's CSV option strings when it needs it. */
function csvValue(v: string): string {
  return /[",]/.test(v) ? `"${v.replace(/"/g, '')}"` : v;
}

function csv(type: string, attrs: [string, string][]): string {
  return [`type=${type}`, ...attrs.map(([k, v]) => `${k}=${csvValue(v)}`)].join(',');
}

export async function runRemoteBuild(req: BuildRequest, contextDir: string, session: BuildSession, settings: ServeSettings, workDir: string): Promise<AdapterResult> {
  await mkdir(workDir, { recursive: true, mode: 0o700 });
  const dockerfile = path.join(workDir, path.basename(req.dockerfile.name) || 'Dockerfile');
  await writeFile(dockerfile, req.dockerfile.text);
  const iidFile = path.join(workDir, 'iid');
  const metadataFile = path.join(workDir, 'metadata.json');
  const args = ['build', contextDir, '-f', dockerfile, '--progress', 'rawjson', '--iidfile', iidFile];
  if (req.wantMetadata) args.push('--metadata-file', metadataFile);
  for (const t of req.tags) args.push('-t', t);
  for (const [k, v] of req.buildArgs) args.push('--build-arg', `${k}=${v}`);
  for (const [k, v] of req.labels) args.push('--label', `${k}=${v}`);
  if (req.target) args.push('--target', req.target);
  for (const p of req.platforms) args.push('--platform', p);
  if (req.noCache) args.push('--no-cache');
  for (const s of req.noCacheFilter) args.push('--no-cache-filter', s);
  if (req.pull) args.push('--pull');
  for (const [i, out] of req.outputs.entries()) {
    const attrs = out.attrs.filter(([k]) => k !== 'dest');
    if (out.stream) {
      const kind = out.type === 'local' || (out.type === 'oci' && new Map(out.attrs).get('tar') === 'false') ? 'dir' : 'tar';
      const dest = path.join(workDir, `output-${i}`);
      session.addOutput(i, kind, dest);
      attrs.push(['dest', dest]);
    }
    args.push('-o', csv(out.type, attrs));
  }
  const env: NodeJS.ProcessEnv = { ...process.env, TSBUILD_ROOT: settings.root, TSBUILD_JOBS: String(settings.maxParallelism) };
  // The child reads secrets from its environment (memory), never from a file.
  for (const [i, id] of req.secrets.entries()) {
    const name = `TSBUILD_REMOTE_SECRET_${i}`;
    env[name] = (await session.getSecret(id)).toString('utf8');
    args.push('--secret', `id=${csvValue(id)},env=${name}`);
  }
  for (const id of req.ssh) args.push('--ssh', `${id}=${await session.agentSocket(id)}`);
  const cacheFrom = req.cacheFrom.length > 0 ? req.cacheFrom : settings.cacheFrom.map((c) => ({ type: c.type, attrs: [...c.attrs] as [string, string][] }));
  const cacheTo = req.cacheTo.length > 0 ? req.cacheTo : settings.cacheTo.map((c) => ({ type: c.type, attrs: [...c.attrs] as [string, string][] }));
  for (const c of cacheFrom) args.push('--cache-from', csv(c.type, c.attrs));
  for (const c of cacheTo) args.push('--cache-to', csv(c.type, c.attrs));
  args.push('--call', req.call);
  for (const a of req.allow) args.push('--allow', a);
  args.push('--runtime', req.runtime);

  const child = spawn(process.execPath, [path.join(packageRoot(), 'bin', 'tsbuild.js'), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const onAbort = () => {
    child.kill('SIGINT');
    setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
  };
  session.abort.signal.addEventListener('abort', onAbort, { once: true });
  const errLines = new LineSplitter();
  const forwardErr = (line: string) => {
    if (line.startsWith('{')) {
      try {
        const record = JSON.parse(line) as Record<string, unknown>;
        if (typeof record.type === 'string') return session.send({ type: 'event', record });
      } catch {
        // Not a record: shown as text.
      }
    }
    session.send({ type: 'stderr', text: line });
  };
  child.stderr.on('data', (d: Buffer) => errLines.push(d).forEach(forwardErr));
  child.stdout.on('data', (d: Buffer) => session.send({ type: 'stdout', text: d.toString('utf8') }));
  const exitCode = await new Promise<number>((resolve) => {
    child.on('error', () => resolve(125));
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 + 2 : 1)));
  });
  session.abort.signal.removeEventListener('abort', onAbort);
  const rest = errLines.flush();
  if (rest !== undefined) forwardErr(rest);
  if (exitCode !== 0) return { exitCode };
  const imageId = (await readFile(iidFile, 'utf8').catch(() => '')).trim() || undefined;
  const metadata = req.wantMetadata ? (JSON.parse(await readFile(metadataFile, 'utf8').catch(() => '{}')) as Record<string, unknown>) : undefined;
  return { exitCode, imageId, metadata };
}

export async function removeWorkDir(workDir: string): Promise<void> {
  await rm(workDir, { recursive: true, force: true });
}
