// RUN: the argv (shell form wrapped in SHELL, heredoc scripts as BuildKit
// runs them), the environment, the mounts, and BuildKit's history line
// `RUN |N A=1 B=2 /bin/sh -c make # buildkit`.
import { MountError, parseMount, type RunInstruction, type RunMount as TypedMount } from '../instructions/index.js';
import { isHeredocMarker } from '../parser/index.js';
import { expandWord } from '../shell/index.js';
import { isProxyArg } from './args.js';
import { withShell } from './dispatch-command.js';
import { attachLocation, errorAt } from './location.js';
import { cleanPath, joinPath } from './paths.js';
import { displayName, fileSource, type Scope } from './scope.js';
import type { RunMount, RunStep } from './types.js';

/** Where BuildKit mounts a heredoc script that starts with `#!` so it can be executed directly. */
const HEREDOC_SCRIPT_DIR = '/dev/pipes/';

function summarizeHeredoc(content: string): string {
  const lines = content.trim().replace(/\r\n/g, '\n').split('\n');
  return lines.length > 1 ? `${lines[0]}...` : lines[0]!;
}

interface CommandPlan {
  argv: string[];
  files: RunStep['files'];
  /** Appended to the display name: the first heredoc line. */
  summary: string;
}

/** BuildKit's dispatchRun heredoc handling: one lone heredoc is the script; anything else is re-assembled for the shell. */
function planCommand(scope: Scope, inst: RunInstruction): CommandPlan {
  if (inst.command.form === 'exec') return { argv: [...inst.command.args], files: [], summary: '' };
  const { command, heredocs } = inst.command;
  if (heredocs.length === 0) return { argv: withShell(scope.state.config, command), files: [], summary: '' };
  const first = heredocs[0]!;
  if (isHeredocMarker(command.trim())) {
    const summary = ` (${summarizeHeredoc(first.content)})`;
    if (first.content.startsWith('#!') && scope.state.platform.os !== 'windows') {
      // A script with its own interpreter: materialise it as an executable file and run that.
      const path = HEREDOC_SCRIPT_DIR + first.name;
      return { argv: withShell(scope.state.config, path), files: [{ path, content: first.content, mode: 0o755 }], summary };
    }
    // Run the body itself as the shell script, so shells without heredoc support still work.
    return { argv: withShell(scope.state.config, first.content), files: [], summary };
  }
  const script = command + heredocs.map((h) => `\n${h.content}${h.name}`).join('');
  return { argv: withShell(scope.state.config, script), files: [], summary: '' };
}

function expandMount(scope: Scope, mount: TypedMount): TypedMount {
  if (!mount.raw.includes('$')) return mount;
  try {
    return parseMount(mount.raw, (word) => scope.expand.word(word));
  } catch (e) {
    if (e instanceof MountError) throw errorAt(scope.loc, e.code, e.message);
    throw attachLocation(e, scope.loc);
  }
}

const basename = (p: string) => cleanPath(p).split('/').pop() || '/';

/** Turns a --mount into the graph's mount: defaults filled in, paths absolute, sources resolved. */
function convertMount(scope: Scope, m: TypedMount, sshIndex: number): RunMount {
  const base = {
    readonly: m.readOnly,
    ...(m.mode !== undefined ? { mode: m.mode } : {}),
    ...(m.uid !== undefined ? { uid: m.uid } : {}),
    ...(m.gid !== undefined ? { gid: m.gid } : {}),
  };
  if (m.type === 'secret') {
    const id = m.source || m.id || (m.target ? basename(m.target) : '');
    if (!id) throw errorAt(scope.loc, 'BAD_MOUNT', 'invalid secret mount: one of source, target required');
    // A secret read through `env=` gets no file unless a target was asked for.
    const target = m.target ?? (m.env !== undefined ? '' : `/run/secrets/${basename(id)}`);
    if (!scope.state.secrets.has(id)) scope.state.secrets.set(id, { required: m.required, loc: scope.loc });
    return { type: 'secret', target, id, required: m.required, ...(m.env !== undefined ? { env: m.env } : {}), ...base };
  }
  if (m.type === 'ssh') {
    if (m.source) throw errorAt(scope.loc, 'BAD_MOUNT', 'ssh does not support source');
    const id = m.id || 'default';
    if (!scope.state.ssh.has(id)) scope.state.ssh.set(id, { required: m.required, loc: scope.loc });
    return { type: 'ssh', target: m.target || `/run/buildkit/ssh_agent.${sshIndex}`, id, required: m.required, ...base };
  }
  const rawTarget = m.target ?? '';
  const target = rawTarget.startsWith('/') ? cleanPath(rawTarget) : joinPath('/', scope.state.workdir, rawTarget);
  if (target === '/') throw errorAt(scope.loc, 'BAD_MOUNT', `invalid mount target ${JSON.stringify(target)}`);
  const from = m.from
    ? fileSource(scope, m.from, (stage) => `cannot mount from stage ${JSON.stringify(stage)} to ${JSON.stringify(rawTarget)}, stage needs to be defined before current command`)
    : m.type === 'bind'
      ? ({ type: 'context' } as const)
      : undefined;
  const source = m.source !== undefined && joinPath('/', m.source) !== '/' ? m.source : undefined;
  const mount: RunMount = {
    type: m.type,
    target,
    ...(source !== undefined ? { source } : {}),
    ...(from ? { from } : {}),
    ...base,
  };
  if (m.type === 'cache') {
    mount.id = m.id || cleanPath(rawTarget);
    mount.sharing = m.sharing ?? 'shared';
  }
  if (m.type === 'tmpfs' && m.sizeLimit !== undefined) mount.size = m.sizeLimit;
  return mount;
}

/** BuildKit's runCommandString: `|N K=V ...` for the ARGs in scope, then the argv. Proxy args never appear. */
function historyCommand(scope: Scope, argv: string[]): string {
  const args = new Map<string, string>();
  for (const a of scope.state.buildArgs) {
    if (isProxyArg(a.key)) continue;
    args.set(a.key, scope.state.vars.get(a.key) ?? a.value ?? '');
  }
  const prefix = args.size > 0 ? [`|${args.size}`, ...[...args].map(([k, v]) => `${k}=${v}`)] : [];
  return [...prefix, ...argv].join(' ');
}

/** The progress name: variables shown expanded where known, secret env values masked. */
function runDisplay(scope: Scope, inst: RunInstruction, summary: string): string {
  const masked = new Set(inst.mounts.flatMap((m) => (m.type === 'secret' && m.env ? [m.env] : [])));
  const lookup = (name: string) => (masked.has(name) ? '****' : scope.state.vars.get(name));
  const text = inst.original.trim() + summary;
  try {
    return displayName(expandWord(text, lookup, { escape: scope.ctx.escape, rawQuotes: true, skipUnsetEnv: true }));
  } catch {
    return displayName(text);
  }
}

export function dispatchRun(scope: Scope, inst: RunInstruction): void {
  const { state, ctx } = scope;
  const plan = planCommand(scope, inst);
  let sshIndex = 0;
  const mounts = inst.mounts.map((m) => {
    const expanded = expandMount(scope, m);
    return convertMount(scope, expanded, expanded.type === 'ssh' ? sshIndex++ : sshIndex);
  });
  const env = state.vars.assignments();
  for (const proxy of ctx.proxyEnv) {
    const name = proxy.slice(0, proxy.indexOf('='));
    if (!state.vars.has(name)) env.push(proxy);
  }
  const visibleArgs = [...new Set(state.buildArgs.map((a) => a.key).filter((k) => !isProxyArg(k)))];
  const step: RunStep = {
    kind: 'run',
    loc: scope.loc,
    display: runDisplay(scope, inst, plan.summary),
    args: plan.argv,
    env,
    user: state.config.User ?? '',
    workdir: state.workdir,
    network: inst.network,
    security: inst.security,
    mounts,
    files: plan.files,
    visibleArgs,
  };
  state.steps.push(step);
  state.commit(`RUN ${historyCommand(scope, plan.argv)} # buildkit`, true);
}
