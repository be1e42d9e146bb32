// `--restart no|on-failure[:N]|always|unless-stopped`, decided by the
// detached supervisor each time the container's command ends, as docker
// does: on-failure only after a non-zero exit (at most N times when N is
// given), always/unless-stopped after any exit; never after the user
// stopped or killed the container.
import { ContainerError } from './errors.js';

export interface RestartPolicy {
  name: 'no' | 'on-failure' | 'always' | 'unless-stopped';
  /** on-failure only: 0 means no limit */
  maximumRetryCount: number;
}

export function parseRestartPolicy(text: string): RestartPolicy {
  const [name, count, ...rest] = text.split(':');
  const invalid = () => new ContainerError('INVALID_RUN_OPTION', `invalid restart policy '${text}' (no, on-failure[:max-retries], always, unless-stopped)`);
  if (rest.length > 0) throw invalid();
  if (name === 'no' || name === 'always' || name === 'unless-stopped') {
    if (count !== undefined) throw new ContainerError('INVALID_RUN_OPTION', `maximum retry count cannot be used with restart policy '${name}'`);
    return { name, maximumRetryCount: 0 };
  }
  if (name !== 'on-failure') throw invalid();
  if (count !== undefined && !/^\d+$/.test(count)) throw invalid();
  return { name, maximumRetryCount: count === undefined ? 0 : Number(count) };
}

export function shouldRestart(policy: RestartPolicy | undefined, exitCode: number, restartCount: number, stoppedByUser: boolean): boolean {
  if (!policy || policy.name === 'no' || stoppedByUser) return false;
  if (policy.name === 'on-failure') {
    return exitCode !== 0 && (policy.maximumRetryCount === 0 || restartCount < policy.maximumRetryCount);
  }
  return true;
}

/** docker's back-off: 100 ms, doubling, at most a minute. */
export function restartDelayMs(restartCount: number): number {
  return Math.min(100 * 2 ** restartCount, 60_000);
}
