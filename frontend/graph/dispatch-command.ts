// CMD, ENTRYPOINT and HEALTHCHECK: what the container runs. Shell form is
// wrapped in the stage's SHELL (default `/bin/sh -c`), as BuildKit does.
import { JSONArgsRecommended, MultipleInstructionsDisallowed } from '../checks/rules.js';
import type { CmdInstruction, CommandLine, EntrypointInstruction, HealthcheckInstruction } from '../instructions/index.js';
import { goHealthcheck, goQuotedList } from './go-format.js';
import type { Scope } from './scope.js';
import type { ContainerConfig, HealthConfig } from './types.js';

const DEFAULT_SHELL = ['/bin/sh', '-c'];

/** BuildKit's withShell: the stage's SHELL (or the default) followed by the command line. */
export function withShell(config: ContainerConfig, command: string): string[] {
  const shell = config.Shell && config.Shell.length > 0 ? config.Shell : DEFAULT_SHELL;
  return [...shell, command];
}

/** Only the last CMD/ENTRYPOINT/HEALTHCHECK of a stage counts; warn at the one that is ignored. */
function markOnce(scope: Scope, kind: string, keyword: string): boolean {
  const previous = scope.state.seenOnce.get(kind);
  if (previous) scope.lint.run(MultipleInstructionsDisallowed, previous, keyword);
  scope.state.seenOnce.set(kind, scope.loc);
  return previous !== undefined;
}

function commandArgs(scope: Scope, command: CommandLine, keyword: string): string[] {
  if (command.form === 'exec') return [...command.args];
  // Signals reach a shell, not the program it starts, unless SHELL was chosen on purpose.
  if (!scope.state.config.Shell || scope.state.config.Shell.length === 0) scope.lint.run(JSONArgsRecommended, scope.loc, keyword);
  return withShell(scope.state.config, command.command);
}

export function dispatchCmd(scope: Scope, inst: CmdInstruction): void {
  markOnce(scope, 'CMD', inst.keyword);
  const args = commandArgs(scope, inst.command, inst.keyword);
  scope.state.config.Cmd = args;
  scope.state.config.ArgsEscaped = true;
  scope.state.commit(`CMD ${goQuotedList(args)}`, false);
}

export function dispatchEntrypoint(scope: Scope, inst: EntrypointInstruction): void {
  markOnce(scope, 'ENTRYPOINT', inst.keyword);
  const args = commandArgs(scope, inst.command, inst.keyword);
  scope.state.config.Entrypoint = args;
  // An inherited CMD was written for the old ENTRYPOINT; it survives only if this stage set one.
  if (!scope.state.seenOnce.has('CMD')) scope.state.config.Cmd = null;
  scope.state.commit(`ENTRYPOINT ${goQuotedList(args)}`, false);
}

export function dispatchHealthcheck(scope: Scope, inst: HealthcheckInstruction): void {
  markOnce(scope, 'HEALTHCHECK', inst.keyword);
  const o = inst.options;
  const health: HealthConfig = {
    Test: [...inst.test],
    ...(o.interval ? { Interval: o.interval } : {}),
    ...(o.timeout ? { Timeout: o.timeout } : {}),
    ...(o.startPeriod ? { StartPeriod: o.startPeriod } : {}),
    ...(o.startInterval ? { StartInterval: o.startInterval } : {}),
    ...(o.retries ? { Retries: o.retries } : {}),
  };
  scope.state.config.Healthcheck = health;
  scope.state.commit(`HEALTHCHECK ${goHealthcheck(health)}`, false);
}
