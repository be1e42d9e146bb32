// /etc/hosts, /etc/resolv.conf and /etc/hostname for one run: written into
// the run's state dir and bind-mounted over the image's files (as Docker
// and BuildKit do), so the image layer never records them and the host's
// own files are never exposed writable.
import { readFileSync, writeFileSync } from 'node:fs';
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

function hostResolvConf(): string {
  try {
    return readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return '';
  }
}

/** Returns the spec with bind mounts for the files it does not mount itself. */
export function withEtcFiles(spec: SandboxSpec, runDir: string, opts: EtcFilesOptions = {}): SandboxSpec {
  const taken = new Set(spec.mounts.map((m) => m.destination));
  const files: [destination: string, content: () => string][] = [
    ['/etc/hosts', () => opts.hosts ?? defaultHosts(spec.hostname)],
    ['/etc/resolv.conf', () => opts.resolvConf ?? hostResolvConf()],
  ];
  if (spec.hostname) files.push(['/etc/hostname', () => `${spec.hostname}\n`]);
  // A few bytes each, read and written synchronously: a threadpool round
  // trip would sit on the RUN's critical path, and let the build's
  // background work (the previous step's layer write) go first: ~2 ms
  // before the sandbox starts, in a one-file rebuild of bench project c.
  const added: SandboxMount[] = [];
  for (const [destination, content] of files) {
    if (taken.has(destination)) continue;
    const source = join(runDir, destination.slice('/etc/'.length));
    writeFileSync(source, content());
    added.push({ destination, type: 'bind', source, options: ['bind', 'nosuid', 'nodev', 'noexec'] });
  }
  return { ...spec, mounts: [...spec.mounts, ...added] };
}
