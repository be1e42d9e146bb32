// Why a step missed the cache, in the words of the person who edited the
// Dockerfile or the files: the first difference between what the last build
// of the same step was keyed by and what this build is keyed by. Pure: the
// records and file lists come in as values.
import type { SelectionEntry } from '../context/checksum.js';
import { stableStringify } from '../solver/vertex.js';
import type { StepRecord } from './explain-history.js';

export interface StepFacts {
  // Build args the step can see: their env entries are named `build arg X`.
  visibleArgs: readonly string[];
  // What each input beyond the first (the parent) is, e.g. `source stage changed`.
  inputLabels?: readonly string[];
}

export interface CurrentStep {
  key: string;
  description: unknown;
  inputKeys: readonly string[];
}

// Files of a selection by checksum; undefined when it is not known.
export type SelectionLookup = (digest: string) => Promise<readonly SelectionEntry[] | undefined>;

const MAX_NAMED = 3;

export async function explainMiss(previous: StepRecord | undefined, current: CurrentStep, facts: StepFacts,
  oldSelection: SelectionLookup, newSelection: SelectionLookup): Promise<string> {
  if (!previous) return 'no cache entry';
  if (previous.key === current.key) return 'no cache entry (it was pruned)';
  const changes = await describeChanges(previous.description, current.description, facts, oldSelection, newSelection);
  if (changes.length > 0) return joinChanges(changes);
  const input = firstChangedInput(previous.inputKeys, current.inputKeys);
  if (input === 0) return 'parent step changed';
  if (input !== undefined) return facts.inputLabels?.[input - 1] ?? 'an input changed';
  return 'platform or cache format changed';
}

function firstChangedInput(before: readonly string[], now: readonly string[]): number | undefined {
  for (let i = 0; i < Math.max(before.length, now.length); i++) if (before[i] !== now[i]) return i;
  return undefined;
}

// Field by field, in a fixed order: what the user most likely did comes first.
async function describeChanges(before: unknown, now: unknown, facts: StepFacts,
  oldSelection: SelectionLookup, newSelection: SelectionLookup): Promise<string[]> {
  if (!isObject(before) || !isObject(now)) return same(before, now) ? [] : ['instruction changed'];
  if (before.op !== now.op) return ['instruction changed'];
  const out: string[] = [];
  const fields = [...new Set([...Object.keys(now), ...Object.keys(before)])];
  for (const field of fields) {
    if (same(before[field], now[field])) continue;
    if (field === 'env') out.push(...envChanges(before.env, now.env, facts.visibleArgs));
    else if (field === 'content') out.push(await contentChange(before.content, now.content, oldSelection, newSelection));
    else if (field === 'mounts') out.push(await mountChange(before.mounts, now.mounts, oldSelection, newSelection));
    else out.push(FIELD_WORDS[field] ?? `${field} changed`);
  }
  return out;
}

const FIELD_WORDS: Record<string, string> = {
  args: 'command changed',
  user: 'user changed',
  workdir: 'working directory changed',
  network: 'network mode changed',
  security: 'security mode changed',
  files: 'heredoc changed',
  heredocs: 'heredoc changed',
  sources: 'source paths changed',
  urls: 'remote file changed',
  dest: 'destination changed',
  chown: '--chown changed',
  chmod: '--chmod changed',
  link: '--link changed',
  parents: '--parents changed',
  exclude: '--exclude changed',
  checksum: '--checksum changed',
  unpack: 'archive unpacking changed',
  keepGitDir: '--keep-git-dir changed',
  digest: 'base image changed',
  path: 'path changed',
};

function envChanges(before: unknown, now: unknown, visibleArgs: readonly string[]): string[] {
  const a = envMap(before);
  const b = envMap(now);
  const out: string[] = [];
  for (const name of new Set([...b.keys(), ...a.keys()])) {
    if (a.get(name) === b.get(name)) continue;
    const what = visibleArgs.includes(name) ? `build arg ${name}` : `env ${name}`;
    out.push(!a.has(name) ? `${what} set` : !b.has(name) ? `${what} unset` : `${what} changed`);
  }
  return out.length > 0 ? out : ['environment changed'];
}

function envMap(env: unknown): Map<string, string> {
  const map = new Map<string, string>();
  if (!Array.isArray(env)) return map;
  for (const e of env) {
    if (typeof e !== 'string') continue;
    const eq = e.indexOf('=');
    map.set(eq < 0 ? e : e.slice(0, eq), eq < 0 ? '' : e.slice(eq + 1));
  }
  return map;
}

async function mountChange(before: unknown, now: unknown, oldSelection: SelectionLookup, newSelection: SelectionLookup): Promise<string> {
  if (Array.isArray(before) && Array.isArray(now) && before.length === now.length) {
    // Same mounts, only the content of a bound context dir differs: name the files.
    for (let i = 0; i < now.length; i++) {
      const a = before[i] as Record<string, unknown>;
      const b = now[i] as Record<string, unknown>;
      if (same(a, b)) continue;
      if (same({ ...a, content: undefined }, { ...b, content: undefined })) {
        return `bind mount: ${await contentChange(a?.content, b?.content, oldSelection, newSelection)}`;
      }
      return 'mounts changed';
    }
  }
  return 'mounts changed';
}

async function contentChange(before: unknown, now: unknown, oldSelection: SelectionLookup, newSelection: SelectionLookup): Promise<string> {
  const a = typeof before === 'string' ? await oldSelection(before) : undefined;
  const b = typeof now === 'string' ? await newSelection(now) : undefined;
  if (!a || !b) return 'source files changed';
  const changes = diffSelections(a, b);
  return changes.length > 0 ? joinChanges(changes) : 'source files changed';
}

/** `src/a.ts changed`, `b.ts added`, `c.ts deleted`, `d.ts renamed to e.ts`, in path order. */
export function diffSelections(before: readonly SelectionEntry[], now: readonly SelectionEntry[]): string[] {
  const out = samePaths(before, now) ?? pathChanges(before, now);
  // Directories list before their files; changes show in path order.
  return out.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0)).map((c) => c.text);
}

interface Change {
  path: string;
  text: string;
}

// A rebuild after an edit mostly lists the very paths of the last one, in
// the same (walk) order: then they are compared position by position, with
// no map of 5,000 paths built twice (most of the explanation's time on a
// one-file rebuild of a large COPY). Undefined when the paths differ.
function samePaths(before: readonly SelectionEntry[], now: readonly SelectionEntry[]): Change[] | undefined {
  if (before.length !== now.length) return undefined;
  const out: Change[] = [];
  for (let i = 0; i < now.length; i++) {
    const old = before[i]!;
    const e = now[i]!;
    if (old.path !== e.path) return undefined;
    const text = entryChange(old, e);
    if (text !== undefined) out.push({ path: e.path, text });
  }
  return out;
}

function pathChanges(before: readonly SelectionEntry[], now: readonly SelectionEntry[]): Change[] {
  const a = new Map(before.map((e) => [e.path, e]));
  const b = new Map(now.map((e) => [e.path, e]));
  const added = now.filter((e) => !a.has(e.path));
  const deleted = before.filter((e) => !b.has(e.path));
  const out: Change[] = [];
  // A deleted file whose exact content reappears under a new name was renamed.
  const renamedTo = new Map<string, SelectionEntry>();
  for (const gone of deleted) {
    if (gone.type !== 'file') continue;
    const twin = added.find((n) => n.type === 'file' && n.digest === gone.digest && !renamedTo.has(n.path));
    if (twin) {
      renamedTo.set(twin.path, gone);
      out.push({ path: gone.path, text: `${gone.path} renamed to ${twin.path}` });
    }
  }
  const renamedFrom = new Set([...renamedTo.values()].map((e) => e.path));
  for (const e of deleted) if (!renamedFrom.has(e.path)) out.push({ path: e.path, text: `${e.path} deleted` });
  for (const e of added) if (!renamedTo.has(e.path)) out.push({ path: e.path, text: `${e.path} added` });
  for (const e of now) {
    const old = a.get(e.path);
    const text = old && entryChange(old, e);
    if (text !== undefined) out.push({ path: e.path, text });
  }
  return out;
}

/** What changed of one path present in both selections; undefined for nothing. */
function entryChange(old: SelectionEntry, e: SelectionEntry): string | undefined {
  if (old.type !== e.type) return `${e.path} changed type (${old.type} → ${e.type})`;
  if (old.digest !== e.digest || old.link !== e.link) return `${e.path} changed`;
  if (old.mode !== e.mode) return `${e.path} mode changed (${old.mode} → ${e.mode})`;
  if (old.uid !== e.uid || old.gid !== e.gid) return `${e.path} owner changed`;
  return undefined;
}

function joinChanges(changes: readonly string[]): string {
  const unique = [...new Set(changes)];
  const named = unique.slice(0, MAX_NAMED).join(', ');
  const more = unique.length - MAX_NAMED;
  return more > 0 ? `${named} and ${more} more change${more === 1 ? '' : 's'}` : named;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function same(a: unknown, b: unknown): boolean {
  return stableStringify(a) === stableStringify(b);
}
