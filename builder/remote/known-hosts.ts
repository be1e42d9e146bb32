// ~/.ssh/known_hosts, as OpenSSH reads it: `host[,host...] type base64`,
// hosts on another port as `[host]:port`, hashed names as `|1|salt|hmac`.
// A key that is missing is refused unless the user accepts new keys
// (OpenSSH's StrictHostKeyChecking=accept-new); a changed key is always
// refused: it is what a man in the middle looks like.
import { createHash, createHmac } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { RemoteError } from './errors.js';

export type HostKeyVerdict = 'known' | 'unknown' | 'changed';

export function hostPattern(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function nameMatches(field: string, name: string): boolean {
  if (field.startsWith('|1|')) {
    const [, , salt, hash] = field.split('|');
    if (!salt || !hash) return false;
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
  }
  return field.split(',').some((n) => n === name);
}

export function checkHostKey(knownHostsText: string, host: string, port: number, key: Buffer): HostKeyVerdict {
  const name = hostPattern(host, port);
  const keyType = key.readUInt32BE(0) < key.length ? key.subarray(4, 4 + key.readUInt32BE(0)).toString() : '';
  let sawOtherKeyOfType = false;
  for (const raw of knownHostsText.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    // `@revoked`/`@cert-authority` markers: a revoked key never counts as known.
    if (fields[0]?.startsWith('@')) {
      if (fields[0] === '@revoked' && nameMatches(fields[1] ?? '', name) && fields[3] === key.toString('base64')) return 'changed';
      continue;
    }
    const [names, type, blob] = fields;
    if (!names || !type || !blob || !nameMatches(names, name)) continue;
    if (blob === key.toString('base64')) return 'known';
    if (type === keyType) sawOtherKeyOfType = true;
  }
  return sawOtherKeyOfType ? 'changed' : 'unknown';
}

export function fingerprint(key: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(key).digest('base64').replace(/=+$/, '');
}

export interface HostKeyPolicy {
  knownHostsFile: string;
  acceptNew: boolean;
}

/** Throws the refusal the user reads; adds an accepted new key to the file. */
export async function verifyHostKey(policy: HostKeyPolicy, host: string, port: number, key: Buffer): Promise<void> {
  const text = await readFile(policy.knownHostsFile, 'utf8').catch(() => '');
  const verdict = checkHostKey(text, host, port, key);
  if (verdict === 'known') return;
  const where = hostPattern(host, port);
  if (verdict === 'changed') {
    throw new RemoteError('REMOTE_HOST_KEY', `the host key of ${where} has CHANGED (now ${fingerprint(key)}); it differs from the one in ${policy.knownHostsFile}: refusing to connect (remove the old key if the change is expected)`);
  }
  if (!policy.acceptNew) {
    throw new RemoteError('REMOTE_HOST_KEY', `the host key of ${where} (${fingerprint(key)}) is not in ${policy.knownHostsFile}: refusing to connect (add it with ssh-keyscan, or pass --ssh-accept-new-host-key)`);
  }
  const keyType = key.subarray(4, 4 + key.readUInt32BE(0)).toString();
  await mkdir(path.dirname(policy.knownHostsFile), { recursive: true, mode: 0o700 });
  await appendFile(policy.knownHostsFile, `${where} ${keyType} ${key.toString('base64')}\n`, { mode: 0o600 });
}
