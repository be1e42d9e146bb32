// `--security-opt` of `tsbuild run`, with Docker's spellings:
//   seccomp=unconfined | seccomp=PROFILE.json   (moby's profile format)
//   no-new-privileges[=true|false]
// Docker accepts ':' for '=' too (its older syntax). The profile file is
// read here, on the client side, as the docker CLI does.
import { readFile } from 'node:fs/promises';
import { parseSeccompProfile, SandboxError, type SeccompProfile } from '../../runner-native/index.js';
import { ContainerError } from './errors.js';

export interface SecurityOptions {
  /** absent: the default profile */
  seccomp?: SeccompProfile | 'unconfined';
  noNewPrivileges: boolean;
}

function invalid(message: string): ContainerError {
  return new ContainerError('INVALID_RUN_OPTION', message);
}

async function readProfile(file: string): Promise<SeccompProfile> {
  const text = await readFile(file, 'utf8').catch((err: Error) => { throw invalid(`opening seccomp profile (${file}) failed: ${err.message}`); });
  try {
    return parseSeccompProfile(text, `seccomp profile ${file}`);
  } catch (err) {
    if (err instanceof SandboxError) throw invalid(err.message.replace(/^invalid sandbox spec: /, ''));
    throw err;
  }
}

export async function parseSecurityOptions(values: string[]): Promise<SecurityOptions> {
  const out: SecurityOptions = { noNewPrivileges: false };
  for (const value of values) {
    const m = /^([a-z-]+)(?:[=:](.*))?$/s.exec(value);
    const key = m?.[1];
    const arg = m?.[2];
    if (key === 'no-new-privileges') {
      if (arg !== undefined && arg !== 'true' && arg !== 'false') throw invalid(`invalid --security-opt ${JSON.stringify(value)}: no-new-privileges takes true or false`);
      out.noNewPrivileges = arg !== 'false';
    } else if (key === 'seccomp' && arg) {
      out.seccomp = arg === 'unconfined' ? 'unconfined' : await readProfile(arg);
    } else {
      throw invalid(`invalid --security-opt ${JSON.stringify(value)} (supported: seccomp=unconfined, seccomp=PROFILE.json, no-new-privileges)`);
    }
  }
  return out;
}
