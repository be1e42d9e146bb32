// COPY, ADD and WORKDIR: the steps that change files, with BuildKit's
// expansion rules, destination resolution and history lines.
import { WorkdirRelativePath } from '../checks/rules.js';
import type { AddInstruction, CopyInstruction, WorkdirInstruction } from '../instructions/index.js';
import { expandWord } from '../shell/index.js';
import { attachLocation, errorAt } from './location.js';
import { normalizeWorkdir, resolveDestination } from './paths.js';
import { displayName, fileSource, type Scope } from './scope.js';
import type { CopyStep, FileSource } from './types.js';

const isUrl = (src: string) => src.startsWith('http://') || src.startsWith('https://');

/** --chmod: octal up to 07777, or symbolic (`u+x`); BuildKit's message for a bad numeric one. */
function checkChmod(scope: Scope, chmod: string): void {
  if (/^[0-9]+$/.test(chmod)) {
    if (!/^[0-7]+$/.test(chmod) || Number.parseInt(chmod, 8) > 0o7777) {
      throw errorAt(scope.loc, 'BAD_CHMOD', `invalid chmod parameter: '${chmod}'. it should be octal string and between 0 and 07777`);
    }
  }
}

function copyDisplay(scope: Scope, original: string): string {
  try {
    return displayName(expandWord(original.trim(), scope.state.vars.lookup, { escape: scope.ctx.escape }));
  } catch {
    return displayName(original);
  }
}

export function dispatchCopy(scope: Scope, inst: CopyInstruction | AddInstruction): void {
  const { state, expand } = scope;
  const add = inst.kind === 'ADD';
  const paths: string[] = [];
  const heredocs: CopyStep['heredocs'] = [];
  for (const src of inst.sources) {
    if (src.kind === 'path') paths.push(expand.word(src.path));
    else heredocs.push({ name: src.file.name, content: src.file.expand ? expand.heredoc(src.file.content) : src.file.content });
  }
  const rawDest = expand.word(inst.destination);
  const chown = inst.chown !== undefined ? expand.word(inst.chown) : undefined;
  const chmod = inst.chmod !== undefined ? expand.word(inst.chmod) : undefined;
  if (chmod) checkChmod(scope, chmod);
  const checksum = inst.kind === 'ADD' && inst.checksum !== undefined ? expand.word(inst.checksum) : undefined;
  if (checksum) {
    if (paths.length !== 1 || heredocs.length > 0) throw errorAt(scope.loc, 'BAD_CHECKSUM', "checksum can't be specified for multiple sources");
    if (!isUrl(paths[0]!) && !paths[0]!.includes('.git')) throw errorAt(scope.loc, 'BAD_CHECKSUM', 'checksum requires HTTP(S) or Git sources');
  }
  if (!add && paths.some(isUrl)) throw errorAt(scope.loc, 'COPY_URL', "source can't be a URL for COPY; use ADD to download files");

  let from: FileSource = { type: 'context' };
  if (inst.kind === 'COPY' && inst.from !== undefined) {
    from = fileSource(
      scope,
      inst.from,
      (stage) => `cannot copy from stage ${JSON.stringify(stage)}, it needs to be defined before current stage ${JSON.stringify(scope.node.displayName)}`,
    );
  }

  let dest: string;
  try {
    dest = resolveDestination(state.workdir, rawDest);
  } catch (e) {
    throw attachLocation(e, scope.loc);
  }
  const step: CopyStep = {
    kind: 'copy',
    loc: scope.loc,
    display: copyDisplay(scope, inst.original),
    add,
    from,
    sources: paths,
    heredocs,
    dest,
    workdir: state.workdir,
    ...(chown ? { chown } : {}),
    ...(chmod ? { chmod } : {}),
    link: inst.link,
    parents: inst.kind === 'COPY' ? inst.parents : false,
    exclude: [...inst.excludes],
    ...(checksum ? { checksum } : {}),
    keepGitDir: inst.kind === 'ADD' ? (inst.keepGitDir ?? false) : false,
    ...(inst.kind === 'ADD' && inst.unpack !== undefined ? { unpack: inst.unpack } : {}),
  };
  state.steps.push(step);

  const words = [add ? 'ADD' : 'COPY'];
  if (inst.kind === 'COPY' && inst.parents) words.push('--parents');
  if (chown) words.push(`--chown=${chown}`);
  if (chmod) words.push(`--chmod=${chmod}`);
  words.push(...paths, ...heredocs.map((h) => `<<${h.name}`), rawDest);
  state.commit(`${words.join(' ')} # buildkit`, true);
}

export function dispatchWorkdir(scope: Scope, inst: WorkdirInstruction): void {
  const { state } = scope;
  const requested = scope.expand.word(inst.path);
  // Only the first WORKDIR of the build matters: later relative ones build on it.
  if (!state.workdirSet && !requested.startsWith('/')) scope.lint.run(WorkdirRelativePath, scope.loc, requested);
  state.workdirSet = true;
  let wd: string;
  try {
    wd = normalizeWorkdir(state.config.WorkingDir ?? '', requested);
  } catch (e) {
    throw attachLocation(e, scope.loc);
  }
  state.config.WorkingDir = wd;
  state.workdir = wd;
  // BuildKit creates the directory (owned by the current USER) unless it is the root.
  const layer = wd !== '/';
  if (layer) {
    state.steps.push({ kind: 'workdir', loc: scope.loc, display: copyDisplay(scope, inst.original), path: wd, user: state.config.User ?? '' });
  }
  state.commit(`WORKDIR ${wd}`, layer);
}
