// What `tsbuild exec` runs: docker's rules. The command as given (no
// ENTRYPOINT), the container's environment plus -e, its working directory
// unless -w, its user unless -u (names looked up in the container's own
// /etc/passwd, through its root as the running container sees it), and the
// same capability rule as the container's main process: root gets the
// container's set, any other user only the bounding set.
import type { SandboxProcess } from '../../runner-native/index.js';
import { resolveProcessUser } from '../steps/user.js';
import type { Container } from './container-store.js';
import { ContainerError } from './errors.js';
import { mergeEnv } from './process-config.js';

export interface ExecRequest {
  command: string[];
  env: string[];
  user?: string;
  workdir?: string;
  tty: boolean;
}

/** The container's root as its init sees it, reachable from the host while it runs. */
export function liveRootOf(c: Container): string {
  if (c.state.status !== 'running' || !c.state.init) throw new ContainerError('CONTAINER_NOT_RUNNING', `container ${c.config.name} is not running`);
  return `/proc/${c.state.init.pid}/root`;
}

export async function execProcess(c: Container, req: ExecRequest): Promise<SandboxProcess> {
  if (req.command.length === 0) throw new ContainerError('INVALID_RUN_OPTION', 'exec needs a command to run');
  if (req.workdir !== undefined && !req.workdir.startsWith('/')) {
    throw new ContainerError('INVALID_RUN_OPTION', `the working directory '${req.workdir}' is invalid, it needs to be an absolute path`);
  }
  const main = c.config.spec.process;
  const user = req.user === undefined ? { ...main.user } : await resolveProcessUser(liveRootOf(c), req.user);
  const bounding = main.capabilities?.bounding ?? [];
  const capabilities = user.uid === 0
    ? { bounding, effective: [...bounding], permitted: [...bounding] }
    : { bounding, effective: [], permitted: [] };
  let env = mergeEnv(main.env, req.env);
  if (req.tty && !env.some((e) => e.startsWith('TERM='))) env = [...env, 'TERM=xterm'];
  const proc: SandboxProcess = {
    args: req.command,
    env,
    cwd: req.workdir ?? main.cwd,
    user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids ?? [] },
    capabilities,
    ...(main.noNewPrivileges ? { noNewPrivileges: true } : {}),
    ...(main.rlimits ? { rlimits: main.rlimits } : {}),
  };
  if (req.tty) {
    proc.terminal = true;
    if (process.stdout.rows && process.stdout.columns) proc.consoleSize = { height: process.stdout.rows, width: process.stdout.columns };
  }
  return proc;
}
