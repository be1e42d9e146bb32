// Secrets and SSH agents of the machine the build runs on, as the CLI
// (and the library entry point) take them: `--secret id=X,src=FILE|env=VAR`
// and `--ssh ID[=SOCKET|KEY,...]`. A build server has its own providers, which
// fetch them from its client.
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MountError } from '../steps/errors.js';
import type { SecretProvider, SshProvider } from '../steps/types.js';
import type { KeyAgent } from './ssh-key-agent.js';

export interface SecretSpec {
  id: string;
  src?: string;
  env?: string;
}

export interface SshSpec {
  id: string;
  paths: string[];
}

/** Reads a secret only when a step asks for it; an env var wins over a file. */
export function localSecrets(specs: readonly SecretSpec[], env: Readonly<Record<string, string | undefined>>): SecretProvider {
  return {
    getSecret: (id) => readSecret(specs, id, env).catch(() => undefined),
  };
}

/** Secret `id`'s bytes as --secret names them, or an error saying why there are none. */
export async function readSecret(specs: readonly SecretSpec[], id: string, env: Readonly<Record<string, string | undefined>>): Promise<Buffer> {
  const spec = specs.find((s) => s.id === id);
  if (!spec) throw new Error(`secret ${id} was not given with --secret`);
  if (spec.env !== undefined && env[spec.env] !== undefined) return Buffer.from(env[spec.env]!);
  if (spec.src !== undefined) return readFile(spec.src);
  throw new Error(`secret ${id}: environment variable ${spec.env} is not set`);
}

/**
 * `--ssh ID=SOCKET`, `--ssh ID` for the caller's own agent (`agentSocket`,
 * i.e. SSH_AUTH_SOCK), or `--ssh ID=KEY[,KEY]`: key files are served, as
 * buildx does, by an agent of our own (steps/ssh-key-agent.ts) started when
 * a step first asks for the id and kept for the build; close() stops them.
 */
export function localSsh(specs: readonly SshSpec[], agentSocket: string | undefined): SshProvider & { close(): Promise<void> } {
  const agents = new Map<string, Promise<KeyAgent>>();
  return {
    async agentSocket(id) {
      const spec = specs.find((s) => s.id === id);
      const paths = spec ? (spec.paths.length > 0 ? spec.paths : agentSocket ? [agentSocket] : []) : [];
      if (paths.length === 0) return undefined;
      const kinds = await Promise.all(paths.map((p) => stat(p).catch(() => null)));
      if (paths.length === 1 && kinds[0]?.isSocket()) return paths[0];
      const missing = paths.find((_, i) => !kinds[i]?.isFile());
      if (missing !== undefined) throw new MountError('SSH_NOT_FOUND', `ssh ${id}: ${missing} is neither an agent socket nor a key file`);
      let agent = agents.get(id);
      if (!agent) {
        agent = (async () => {
          const { startKeyAgent } = await import('./ssh-key-agent.js');
          const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-ssh-'));
          // A key that cannot be read or parsed fails the build: its empty dir must not stay behind.
          const started = await startKeyAgent(id, paths, dir).catch(async (err: unknown) => {
            await rm(dir, { recursive: true, force: true });
            throw err;
          });
          // BuildKit's default for an ssh mount: owned by root, 0600 (connecting needs write permission).
          await chmod(started.socket, 0o600);
          return started;
        })();
        agents.set(id, agent);
      }
      return (await agent).socket;
    },
    async close() {
      const started = await Promise.allSettled(agents.values());
      agents.clear();
      await Promise.all(started.map((r) => (r.status === 'fulfilled' ? r.value.close() : undefined)));
    },
  };
}
