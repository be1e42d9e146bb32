// Docker's rules for what a container runs: ENTRYPOINT + CMD (with the
// CLI's overrides), the environment (image ENV, then -e/--env-file), and
// the working directory. Pure, so every rule has a unit test.
import type { ContainerConfig } from '../image/types.js';
import { constants } from 'node:os';
import { ContainerError } from './errors.js';

export interface CommandOverrides {
  /** CLI arguments after the image name */
  command: string[];
  /** --entrypoint: '' clears it, undefined keeps the image's */
  entrypoint?: string;
}

/**
 * ENTRYPOINT followed by CMD. Giving --entrypoint also drops the image's
 * CMD (it was written for the old entrypoint), unless the CLI gives its own.
 */
export function containerArgs(image: ContainerConfig, o: CommandOverrides): string[] {
  const entrypoint = o.entrypoint !== undefined ? (o.entrypoint === '' ? [] : [o.entrypoint]) : image.Entrypoint ?? [];
  const cmd = o.command.length > 0 ? o.command : o.entrypoint !== undefined ? [] : image.Cmd ?? [];
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) throw new ContainerError('NO_COMMAND', 'no command specified (the image has no ENTRYPOINT or CMD: give one after the image name)');
  return args;
}

function keyOf(entry: string): string {
  const eq = entry.indexOf('=');
  return eq < 0 ? entry : entry.slice(0, eq);
}

/**
 * Later entries replace earlier ones with the same key, in place (order
 * kept, as Docker does); a bare `K` removes K.
 */
export function mergeEnv(base: string[], overrides: string[]): string[] {
  const out = base.filter((e) => e.includes('='));
  for (const entry of overrides) {
    const key = keyOf(entry);
    const at = out.findIndex((e) => keyOf(e) === key);
    if (!entry.includes('=')) {
      if (at >= 0) out.splice(at, 1);
    } else if (at >= 0) {
      out[at] = entry;
    } else {
      out.push(entry);
    }
  }
  return out;
}

/** The container's environment: image ENV, CLI env, then HOSTNAME and HOME as Docker adds them. */
export function containerEnv(image: ContainerConfig, cli: string[], extra: { hostname: string; home: string }): string[] {
  const env = mergeEnv(image.Env ?? [], cli);
  // Docker puts HOSTNAME first and fills HOME only when nobody set it
  const withHostname = mergeEnv([`HOSTNAME=${extra.hostname}`], env);
  return withHostname.some((e) => keyOf(e) === 'HOME') ? withHostname : [...withHostname, `HOME=${extra.home}`];
}

export function containerWorkdir(image: ContainerConfig, cli: string | undefined): string {
  const dir = cli ?? (image.WorkingDir || '/');
  if (!dir.startsWith('/')) {
    throw new ContainerError('INVALID_RUN_OPTION', `the working directory '${dir}' is invalid, it needs to be an absolute path`);
  }
  return dir;
}

/** The signal `stop` sends first: the image's STOPSIGNAL (name or number), else SIGTERM. */
export function stopSignalOf(image: ContainerConfig): string {
  const s = image.StopSignal?.trim();
  return s ? normalizeSignal(s) : 'SIGTERM';
}

/** `term`, `SIGTERM`, `15` → `SIGTERM`/`15`; an unknown name is an error, as in docker. */
export function normalizeSignal(text: string): string {
  const s = text.trim();
  if (/^\d+$/.test(s)) return s;
  const name = s.toUpperCase().startsWith('SIG') ? s.toUpperCase() : `SIG${s.toUpperCase()}`;
  if (!(name in constants.signals)) throw new ContainerError('INVALID_RUN_OPTION', `invalid signal: ${text}`);
  return name;
}
