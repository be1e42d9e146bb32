// The docker credential helper protocol: `docker-credential-<name> get|store|erase`,
// the server URL (or a JSON record for store) on stdin, JSON on stdout.
// Helpers report a missing entry on stdout/stderr with "credentials not found".

import { spawn } from 'node:child_process';
import { RegistryError } from './errors.js';

export interface HelperCredentials {
  username: string;
  secret: string;
}

interface HelperResult {
  code: number;
  stdout: string;
  stderr: string;
}

function runHelper(helper: string, action: 'get' | 'store' | 'erase', input: string): Promise<HelperResult> {
  const program = `docker-credential-${helper}`;
  return new Promise((resolve, reject) => {
    const child = spawn(program, [action], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', (e) => {
      const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'is not installed (not found on PATH)' : `could not be started: ${e.message}`;
      reject(new RegistryError('CREDENTIAL_HELPER', `credential helper ${program} ${why}`));
    });
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    // A helper that exits before reading stdin must not crash us with EPIPE.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

function notFound(r: HelperResult): boolean {
  return /credentials not found/i.test(r.stdout + r.stderr);
}

function failure(helper: string, action: string, server: string, r: HelperResult): RegistryError {
  const detail = (r.stderr.trim() || r.stdout.trim()).split('\n')[0] ?? '';
  return new RegistryError('CREDENTIAL_HELPER', `docker-credential-${helper} ${action} for ${server} failed (exit ${r.code})${detail ? `: ${detail}` : ''}`);
}

export async function helperGet(helper: string, server: string): Promise<HelperCredentials | undefined> {
  const r = await runHelper(helper, 'get', server);
  if (r.code !== 0) {
    if (notFound(r)) return undefined;
    throw failure(helper, 'get', server, r);
  }
  let parsed: { Username?: unknown; Secret?: unknown };
  try {
    parsed = JSON.parse(r.stdout) as typeof parsed;
  } catch {
    throw new RegistryError('CREDENTIAL_HELPER', `docker-credential-${helper} get for ${server} printed something that is not JSON`);
  }
  if (typeof parsed.Secret !== 'string' || parsed.Secret === '') return undefined;
  return { username: typeof parsed.Username === 'string' ? parsed.Username : '', secret: parsed.Secret };
}

export async function helperStore(helper: string, server: string, creds: HelperCredentials): Promise<void> {
  const r = await runHelper(helper, 'store', JSON.stringify({ ServerURL: server, Username: creds.username, Secret: creds.secret }));
  if (r.code !== 0) throw failure(helper, 'store', server, r);
}

/** Returns false when the helper had nothing stored for `server`. */
export async function helperErase(helper: string, server: string): Promise<boolean> {
  const r = await runHelper(helper, 'erase', server);
  if (r.code === 0) return true;
  if (notFound(r)) return false;
  throw failure(helper, 'erase', server, r);
}
