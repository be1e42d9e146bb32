// /etc/hosts, /etc/resolv.conf and /etc/hostname for one run: written into
// the run's state dir and bind-mounted over the image's files (as Docker
// and BuildKit do), so the image layer never records them and the host's
// own files are never exposed writable.
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SandboxMount, SandboxSpec } from './spec.js';

export interface EtcFilesOptions {
  /** full /etc/hosts text; default: localhost entries plus the hostname */
  hosts?: string;
  /** full /etc/resolv.conf text; default: the host's /etc/resolv.conf */
  resolvConf?: string;
}

export function defaultHosts(hostname: string | undefined): string {
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback'];
  if (hostname) lines.push(`127.0.0.1\t${hostname}`);
  return lines.join('\n') + '\n';
}

async function hostResolvConf(): Promise<string> {
  return readFile('/etc/resolv.conf', 'utf8').catch(() => '');
}

/** Returns the spec with bind mounts for the files it does not mount itself. */
export async function withEtcFiles(spec: SandboxSpec, runDir: string, opts: EtcFilesOptions = {}): Promise<SandboxSpec> {
  const taken = new Set(spec.mounts.map((m) => m.destination));
  const files: [destination: string, content: () => Promise<string> | string][] = [
    ['/etc/hosts', () => opts.hosts ?? defaultHosts(spec.hostname)],
    ['/etc/resolv.conf', () => opts.resolvConf ?? hostResolvConf()],
  ];
  if (spec.hostname) files.push(['/etc/hostname', () => `${spec.hostname}\n`]);
  // A few bytes each, written synchronously: threadpool round trips would
  // sit on the RUN's critical path (and let background work go first).
  const added: SandboxMount[] = [];
  for (const [destination, content] of files) {
    if (taken.has(destination)) continue;
    const source = join(runDir, destination.slice('/etc/'.length));
    writeFileSync(source, await content());
    added.push({ destination, type: 'bind', source, options: ['bind', 'nosuid', 'nodev', 'noexec'] });
  }
  return { ...spec, mounts: [...spec.mounts, ...added] };
}
