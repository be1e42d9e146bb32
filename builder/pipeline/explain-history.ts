// What earlier builds remember about each step, to explain cache misses:
//   <root>/explain/steps/<id>.json       { key, description, inputKeys } of the
//                                        last build of the step with that identity
//   <root>/explain/selections/<hex>.json the files of one COPY selection (by its
//                                        checksum), shared by every step that saw it
//   <root>/explain/.swept                when unreferenced selections were last removed
// Files are written to a temp name and renamed, so concurrent builds never
// read half a record; losing a record only loses an explanation.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { readFile, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { SelectionEntry } from '../context/checksum.js';
import { writeTextAtomically, writeTextAtomicallySync } from '../../cache/write-atomic.js';

/** More selections than this are swept (ExplainHistory.sweepWhenMany()). */
export const SWEEP_AT = 64;
const SWEPT_MARKER = '.swept';
const SELECTION_GRACE_MS = 60_000;

export interface StepRecord {
  key: string;
  description: unknown;
  inputKeys: string[];
}

export class ExplainHistory {
  readonly stepsDir: string;
  readonly selectionsDir: string;

  constructor(readonly dir: string) {
    this.stepsDir = path.join(dir, 'steps');
    this.selectionsDir = path.join(dir, 'selections');
  }

  static dirOf(storeRoot: string): string {
    return path.join(storeRoot, 'explain');
  }

  // A few hundred bytes, read by every cached step: synchronously (see readJsonSync()).
  async readStep(id: string): Promise<StepRecord | undefined> {
    return readJsonSync<StepRecord>(path.join(this.stepsDir, `${id}.json`));
  }

  async writeStep(id: string, record: StepRecord): Promise<void> {
    writeTextAtomicallySync(path.join(this.stepsDir, `${id}.json`), JSON.stringify(record));
  }

  async readSelection(digest: string): Promise<SelectionEntry[] | undefined> {
    const rows = await readJson<SelectionRow[]>(this.selectionFile(digest));
    if (!rows) return undefined;
    // Plain loops: run once per process over thousands of rows, before V8 would optimise a callback.
    const entries = new Array<SelectionEntry>(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      entries[i] = { path: r[0], type: r[1], mode: r[2], uid: r[3], gid: r[4], link: r[5], digest: r[6] };
    }
    return entries;
  }

  async hasSelection(digest: string): Promise<boolean> {
    return stat(this.selectionFile(digest)).then(() => true, () => false);
  }

  async writeSelection(digest: string, entries: readonly SelectionEntry[]): Promise<void> {
    const rows = new Array<SelectionRow>(entries.length);
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      rows[i] = [e.path, e.type, e.mode, e.uid, e.gid, e.link, e.digest];
    }
    await writeTextAtomically(this.selectionFile(digest), JSON.stringify(rows));
    await this.sweepWhenMany();
  }

  // Every edit of a COPY's files makes a selection of its own (580 KB for
  // a 5,000-file context), and the step record that named the previous
  // one names the new one instead: without a sweep, the old ones stayed
  // until `prune`, a store's explain/ growing by that much per rebuild.
  // Swept once there are more than SWEEP_AT, at most once a minute (the
  // time of the marker file): a selection younger than a minute may be a
  // running build's, written before its step record, and is kept.
  private async sweepWhenMany(): Promise<void> {
    try {
      if (readdirSync(this.selectionsDir).length <= SWEEP_AT) return;
      const marker = path.join(this.dir, SWEPT_MARKER);
      const last = statSync(marker, { throwIfNoEntry: false })?.mtimeMs ?? 0;
      if (Date.now() - last < SELECTION_GRACE_MS) return;
      writeFileSync(marker, '');
      await this.removeUnreferencedSelections();
    } catch {
      // only an explanation's store: prune removes them as well
    }
  }

  /**
   * Removes the selections no step record refers to any more (prune).
   * Returns the bytes freed.
   */
  async removeUnreferencedSelections(): Promise<number> {
    const referenced = new Set<string>();
    for (const name of await readdir(this.stepsDir).catch(() => [] as string[])) {
      const text = await readFile(path.join(this.stepsDir, name), 'utf8').catch(() => '');
      for (const m of text.matchAll(/sha256:([0-9a-f]{64})/g)) referenced.add(m[1]!);
    }
    let freed = 0;
    for (const name of await readdir(this.selectionsDir).catch(() => [] as string[])) {
      const hex = name.replace(/\.json$/, '');
      if (referenced.has(hex)) continue;
      const file = path.join(this.selectionsDir, name);
      const st = await stat(file).catch(() => null);
      // A selection written by a running build just before its step record.
      if (!st || Date.now() - st.mtimeMs < SELECTION_GRACE_MS) continue;
      await rm(file, { force: true });
      freed += st.size;
    }
    return freed;
  }

  private selectionFile(digest: string): string {
    const hex = digest.replace(/^sha256:/, '');
    if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`invalid selection digest ${digest}`);
    return path.join(this.selectionsDir, `${hex}.json`);
  }
}

// Compact on disk: a 5,000-file selection is a few hundred KB.
type SelectionRow = [path: string, type: string, mode: string, uid: number, gid: number, link: string, digest: string];

// A small file on a step's way: one synchronous read costs less than the
// threadpool's round trips, which queue behind the build's layer writes.
function readJsonSync<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}
