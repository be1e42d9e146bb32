// Secrets and SSH agents of the machine the build runs on, as the CLI
// (and the library entry point) take them: `--secret id=X,src=FILE|env=VAR`
// and `--ssh ID[=SOCKET]`. A build server has its own providers, which
// fetch them from its client.
import { readFile, stat } from 'node:fs/promises';
import { MountError } from '../steps/errors.js';
import type { SecretProvider, SshProvider } from '../steps/types.js';

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
    async getSecret(id) {
      const spec = specs.find((s) => s.id === id);
      if (spec?.env !== undefined && env[spec.env] !== undefined) return Buffer.from(env[spec.env]!);
      if (spec?.src !== undefined) return readFile(spec.src).catch(() => undefined);
      return undefined;
    },
  };
}

/** `--ssh ID=SOCKET`, or `--ssh ID` for the caller's own agent (`agentSocket`, i.e. SSH_AUTH_SOCK). */
export function localSsh(specs: readonly SshSpec[], agentSocket: string | undefined): SshProvider {
  return {
    async agentSocket(id) {
      const spec = specs.find((s) => s.id === id);
      const socket = spec ? (spec.paths[0] ?? agentSocket) : undefined;
      if (!socket) return undefined;
      const st = await stat(socket).catch(() => null);
      if (!st?.isSocket()) throw new MountError('SSH_NOT_SOCKET', `ssh ${id}: ${socket} is not an agent socket (forwarding key files is not supported yet)`);
      return socket;
    },
  };
}
