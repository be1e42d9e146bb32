// The server's memo of whole build answers. A client that asks again for a
// build it asked before (same request, same context digests) of a store
// in which nothing that build read has changed gets the recorded answer
// (its progress records and result) without a build: the no-op rebuild a
// CI pipeline or an editor's save loop repeats all day. Which builds may
// be memoized and how an answer is found still valid are the rules the
// local CLI's memo shares (memo/memo-rules.ts: read them first); here the
// answers live in this process's memory.
import { createHash } from '../../runner-native/native-crypto.js';
import { LRUCache } from 'lru-cache';
import type { BuildRequest, ServerMessage } from '../remote/protocol.js';
import { checksHold, memoizable, touchEntries, type MemoEntry } from '../memo/memo-rules.js';
import { memoChecksOf, memoStart, type MemoStart, type StoreOnlyBuild } from '../memo/memo-checks.js';

export type { MemoStart, StoreOnlyBuild };

const ENTRIES = 256;

/** What of the server's settings a memo needs: its store, and its default cache import and export (a build that uses them is never memoized). */
export interface MemoSettings {
  root: string;
  cacheFrom: readonly unknown[];
  cacheTo: readonly unknown[];
}

export class ResultMemo {
  private readonly entries = new LRUCache<string, MemoEntry>({ max: ENTRIES });

  constructor(private readonly settings: MemoSettings) {}

  /** The request's memo key, or undefined when its answer may not be memoized. */
  keyOf(req: BuildRequest): string | undefined {
    return memoizable(req, this.settings) ? createHash('sha256').update(JSON.stringify(req)).digest('hex') : undefined;
  }

  /** The recorded answer, while nothing it depends on changed. */
  answer(key: string): ServerMessage[] | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (!checksHold(entry.checks)) {
      this.entries.delete(key);
      return undefined;
    }
    // The build would have marked its cache entries used: done after the answer left.
    setImmediate(() => touchEntries(entry.entryFiles));
    return entry.messages;
  }

  /** Taken as a build starts, before it reads anything: what record() needs. */
  start(): MemoStart {
    return memoStart(this.settings.root);
  }

  /** Records a succeeded build's answer when it followed from the store alone and the store held still meanwhile. */
  async record(key: string, messages: ServerMessage[], build: StoreOnlyBuild, started: MemoStart): Promise<void> {
    const found = await memoChecksOf(this.settings.root, build, started);
    if (found) this.entries.set(key, { messages, ...found });
  }
}
