// The local CLI's memo of whole build answers, in the store: the same
// answers and rules as a server's memo (memo-rules.ts), kept in files so
// that the next process finds them. `tsbuild build` looks here first
// (cli/local-memo-entry.ts, from the lean bundle) and records after a
// store-only build (cli/local-memo-record.ts).
//
// One file per answer: <store>/memo/<key>, JSON, written to a temporary
// name and renamed. The key is a digest of the store's real path, of the
// code that would run the build (its version and the identity of the
// bundle file: a rebuilt or upgraded tsbuild may key or export otherwise)
// and of the request a remote client sends for the same build with its
// context's digest (remote-request.ts memoRequest()). A file that is
// unreadable, of another format, or names another key or store is a miss.
// At most MAX_ENTRIES files: when a build records one more, the oldest go.
import { mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../runner-native/package-root.js';
import { sha256Hex } from '../../cache/sha256-text.js';
import type { BuildRequest, ServerMessage } from '../remote/protocol.js';
import type { CliBuildRequest } from '../pipeline/options.js';
import { memoizable, type MemoCheck, type MemoDefaults, type MemoEntry } from './memo-rules.js';

const FORMAT = 1;
const MAX_ENTRIES = 256;
// Down to this many when over: the memo is then listed but not stated by
// the next 64 recordings (a full memo's stats cost each ~1 ms).
const ENTRIES_AFTER_TRIM = 192;
/** Temporary files of a writer that died are removed when this old. */
const STALE_TMP_MS = 60_000;
const TMP_PREFIX = '.tmp-';

/** Set (to anything but '' or 0): no answer is looked up or recorded (troubleshooting, and bench/server.ts's full local path). */
export const NO_MEMO_ENV = 'TSBUILD_NO_MEMO';
const NO_DEFAULTS: MemoDefaults = { cacheFrom: [], cacheTo: [] };

export function memoDisabled(env: NodeJS.ProcessEnv): boolean {
  const v = env[NO_MEMO_ENV];
  return v !== undefined && v !== '' && v !== '0';
}

/**
 * May this local build be answered from the memo? The server's rules, and
 * nothing named from outside the context and the store: no --secret, no
 * --ssh (their files, variables and agents are not checked), no
 * --build-context at all.
 * `request` is its memoRequest().
 */
export function locallyMemoizable(req: CliBuildRequest, request: BuildRequest, env: NodeJS.ProcessEnv): boolean {
  return !memoDisabled(env) && req.call === 'build' && req.secrets.length === 0 && req.ssh.length === 0
    && (req.build.buildContexts ?? []).length === 0 && memoizable(request, NO_DEFAULTS);
}

interface MemoFile extends MemoEntry {
  format: number;
  key: string;
  root: string;
}

export function memoDir(root: string): string {
  return path.join(root, 'memo');
}

/** The memo key of a request on the store at `root`, or undefined when the store is not there. */
export function localMemoKey(root: string, request: BuildRequest): string | undefined {
  let real: string;
  try {
    real = realpathSync(root);
  } catch {
    return undefined;
  }
  return sha256Hex(JSON.stringify({ root: real, code: codeIdentity(), request }));
}

/** The version and the full bundle's file identity: a rebuilt bundle never meets an answer an older one recorded. */
function codeIdentity(): string {
  const dir = packageRoot();
  const st = statSync(path.join(dir, 'dist', 'bundle', 'tsbuild.cjs'), { throwIfNoEntry: false });
  let version = '';
  try {
    version = (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version?: string }).version ?? '';
  } catch {
    // No package.json: the bundle's identity alone.
  }
  return `${version}:${st ? `${st.ino}-${st.size}-${st.mtimeMs}` : 'unbundled'}`;
}

/** The recorded answer under `key`, not yet checked against the store; undefined for none or a file that is not one of ours. */
export function readLocalMemo(root: string, key: string): MemoEntry | undefined {
  let data: MemoFile;
  try {
    data = JSON.parse(readFileSync(path.join(memoDir(root), key), 'utf8')) as MemoFile;
  } catch {
    return undefined;
  }
  if (typeof data !== 'object' || data === null || data.format !== FORMAT || data.key !== key || data.root !== root) return undefined;
  if (!Array.isArray(data.messages) || !Array.isArray(data.checks) || !Array.isArray(data.entryFiles)) return undefined;
  // Only stats inside this store decide, and only its cache entries are touched.
  const inside = (p: unknown) => typeof p === 'string' && p.startsWith(root + path.sep) && !p.split(path.sep).includes('..');
  const kinds = new Set<unknown>(['file', 'dir', 'entry', 'blob', 'record']);
  if (!data.checks.every((c: MemoCheck) => typeof c === 'object' && c !== null && inside(c.path) && kinds.has(c.kind) && typeof c.id === 'string')) return undefined;
  if (!data.entryFiles.every(inside)) return undefined;
  // Progress records, then the result of a build that succeeded: what the CLI shows of one (local-memo-entry.ts).
  const messages = data.messages as ServerMessage[];
  const last = messages[messages.length - 1];
  if (last?.type !== 'result' || last.exitCode !== 0 || typeof last.imageId !== 'string') return undefined;
  if (!messages.slice(0, -1).every((m) => m?.type === 'event' && typeof m.record === 'object' && m.record !== null)) return undefined;
  return { messages, checks: data.checks, entryFiles: data.entryFiles };
}

/** Records an answer (temporary file and rename); a failure only costs the next build its shortcut. */
export function writeLocalMemo(root: string, key: string, entry: MemoEntry): void {
  const dir = memoDir(root);
  const tmp = path.join(dir, `${TMP_PREFIX}${process.pid}-${Math.random().toString(16).slice(2, 10)}`);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(tmp, JSON.stringify({ format: FORMAT, key, root, ...entry } satisfies MemoFile), { mode: 0o600 });
    renameSync(tmp, path.join(dir, key));
  } catch {
    rmSync(tmp, { force: true });
    return;
  }
  bound(dir);
}

/** Removes every answer (prune). */
export function clearLocalMemo(root: string): void {
  rmSync(memoDir(root), { recursive: true, force: true });
}

// The oldest answers beyond MAX_ENTRIES go, and temporary files of writers
// that died. Answers are stated only when there are too many: a full memo's
// 256 stats after every recording, for nothing to remove.
function bound(dir: string): void {
  try {
    const now = Date.now();
    const files: { file: string; mtimeMs: number }[] = [];
    const names = readdirSync(dir);
    const over = names.length > MAX_ENTRIES;
    for (const name of names) {
      if (!over && !name.startsWith(TMP_PREFIX)) continue;
      const file = path.join(dir, name);
      const st = statSync(file, { throwIfNoEntry: false });
      if (!st) continue;
      if (name.startsWith(TMP_PREFIX)) {
        if (now - st.mtimeMs > STALE_TMP_MS) rmSync(file, { force: true });
      } else files.push({ file, mtimeMs: st.mtimeMs });
    }
    if (files.length <= MAX_ENTRIES) return;
    files.sort((a, b) => a.mtimeMs - b.mtimeMs);
    for (const f of files.slice(0, files.length - ENTRIES_AFTER_TRIM)) rmSync(f.file, { force: true });
  } catch {
    // Best effort: a few answers too many cost disk space only.
  }
}
