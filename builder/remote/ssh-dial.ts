// ssh://[user@]host[:port]: an SSH connection (ssh2) that runs
// `tsbuild serve --stdio` on the remote host and hands back its channel, a
// byte stream the HTTP/2 client runs over, as `docker -H ssh://` runs
// `docker system dial-stdio`. The user's agent and ~/.ssh/id_* keys (or an
// explicit identity) authenticate; the host key must be in known_hosts.
import { readFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { Client, type AuthenticationType, type AuthHandlerMiddleware, type ConnectConfig } from 'ssh2';
import { RemoteError } from './errors.js';
import { verifyHostKey } from './known-hosts.js';

export interface SshDialOptions {
  user?: string;
  host: string;
  port: number;
  identityFiles?: string[];
  knownHostsFile?: string;
  acceptNewHostKey?: boolean;
  command?: string;
}

export const DEFAULT_SSH_COMMAND = 'tsbuild serve --stdio';

function defaultIdentities(): string[] {
  const dir = path.join(os.homedir(), '.ssh');
  return ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((n) => path.join(dir, n)).filter((f) => existsSync(f));
}

export function dialSsh(opts: SshDialOptions): Promise<{ stream: Duplex; close(): void }> {
  const username = opts.user ?? os.userInfo().username;
  const keys = (opts.identityFiles?.length ? opts.identityFiles : defaultIdentities()).map((f) => {
    try {
      return readFileSync(f);
    } catch (err) {
      throw new RemoteError('REMOTE_AUTH', `cannot read SSH identity ${f}: ${(err as Error).message}`);
    }
  });
  const agent = process.env.SSH_AUTH_SOCK;
  // Agent first, then each key file, as OpenSSH does.
  const methods: ({ type: AuthenticationType } & Record<string, unknown>)[] = [
    ...(agent ? [{ type: 'agent' as const, username, agent }] : []),
    ...keys.map((key) => ({ type: 'publickey' as const, username, key })),
  ];
  const authHandler: AuthHandlerMiddleware = (_left, _partial, next) => {
    const m = methods.shift();
    next(m ? (m as never) : (false as never));
  };
  let hostKeyError: unknown;
  return new Promise((resolve, reject) => {
    const client = new Client();
    const config: ConnectConfig = {
      host: opts.host,
      port: opts.port,
      username,
      authHandler,
      readyTimeout: 20_000,
      hostVerifier: (key: Buffer, verify: (ok: boolean) => void) => {
        verifyHostKey({ knownHostsFile: opts.knownHostsFile ?? path.join(os.homedir(), '.ssh', 'known_hosts'), acceptNew: opts.acceptNewHostKey ?? false }, opts.host, opts.port, key).then(
          () => verify(true),
          (err) => {
            hostKeyError = err;
            verify(false);
          },
        );
      },
    } as ConnectConfig;
    const where = `ssh://${username}@${opts.host}:${opts.port}`;
    client.once('error', (err) => {
      if (hostKeyError) return reject(hostKeyError);
      const level = (err as { level?: string }).level;
      if (level === 'client-authentication') return reject(new RemoteError('REMOTE_AUTH', `${where}: authentication failed (tried ${agent ? 'the agent and ' : ''}${keys.length} key file(s))`));
      reject(new RemoteError('REMOTE_UNREACHABLE', `cannot connect to ${where}: ${err.message}`));
    });
    client.once('ready', () => {
      client.exec(opts.command ?? DEFAULT_SSH_COMMAND, (err, channel) => {
        if (err) {
          client.end();
          return reject(new RemoteError('REMOTE_UNREACHABLE', `${where}: cannot run "${opts.command ?? DEFAULT_SSH_COMMAND}": ${err.message}`));
        }
        // What the remote command says on stderr (a missing tsbuild, say) is worth seeing.
        let errText = '';
        channel.stderr.on('data', (d: Buffer) => {
          errText += d.toString();
          if (errText.length > 4096) errText = errText.slice(-4096);
        });
        channel.on('exit', (code: number | null) => {
          if (code !== 0 && errText.trim() !== '') process.stderr.write(`remote: ${errText.trim()}\n`);
        });
        channel.on('close', () => client.end());
        resolve({ stream: channel, close: () => client.end() });
      });
    });
    client.connect(config);
  });
}
