// The build's MissExplainer: gives every Dockerfile step an identity that
// survives edits elsewhere in the file (Dockerfile, stage, position, kind),
// remembers under it what the step was keyed by, and on a miss names the
// first difference (explain-diff.ts). Also the checksum cache wrapper that
// keeps the file lists of COPY selections for those explanations.
import { createHash } from '../../runner-native/native-crypto.js';
import path from 'node:path';
import type { StagePlan, Step } from '../../frontend/graph/types.js';
import type { ContentHashCache, SelectionEntry, StatKey } from '../context/checksum.js';
import type { MissExplainer, SolvedInfo } from '../solver/solver.js';
import type { Vertex } from '../solver/vertex.js';
import type { StepFacts } from './explain-diff.js';
import { ExplainHistory, type StepRecord } from './explain-history.js';

/** Wraps a checksum cache and keeps, in memory, the file list of every selection this build checksummed. */
export class SelectionRecorder implements ContentHashCache {
  private readonly selections = new Map<string, () => readonly SelectionEntry[]>();

  constructor(private readonly inner: ContentHashCache) {}

  get(hostPath: string, key: StatKey): string | undefined {
    return this.inner.get(hostPath, key);
  }

  set(hostPath: string, key: StatKey, digest: string): void {
    this.inner.set(hostPath, key, digest);
  }

  noteSelection(digest: string, entries: () => readonly SelectionEntry[]): void {
    // Built at most once, and only when an explanation or the history needs it.
    let built: readonly SelectionEntry[] | undefined;
    this.selections.set(digest, () => (built ??= entries()));
    this.inner.noteSelection?.(digest, entries);
  }

  load(): Promise<void> {
    return this.inner.load?.() ?? Promise.resolve();
  }

  selectionDigest(key: string, fingerprint: string): string | undefined {
    return this.inner.selectionDigest?.(key, fingerprint);
  }

  rememberSelection(key: string, fingerprint: string, digest: string, trustedFrom: number): void {
    this.inner.rememberSelection?.(key, fingerprint, digest, trustedFrom);
  }

  selection(digest: string): readonly SelectionEntry[] | undefined {
    return this.selections.get(digest)?.();
  }
}

export interface ExplainerOptions {
  history: ExplainHistory;
  selections: SelectionRecorder;
  // Where the build reads from: the same Dockerfile with another context is another step.
  dockerfilePath: string;
  contextDir: string;
  // Why uncacheable vertices run (`--no-cache` or `--no-cache-filter`).
  noCache: boolean;
}

interface StepIdentity {
  id: string;
  facts: StepFacts;
}

export class BuildExplainer implements MissExplainer {
  private readonly identities = new Map<Vertex<unknown>, StepIdentity>();
  // Records read while explaining, so remembering does not read them again.
  private readonly previous = new Map<string, Promise<StepRecord | undefined>>();

  constructor(private readonly opts: ExplainerOptions, steps: readonly { stage: StagePlan; step: Step; vertex: Vertex<unknown> }[]) {
    const base = [path.resolve(opts.dockerfilePath), path.resolve(opts.contextDir)];
    const position = new Map<StagePlan, number>();
    for (const { stage, step, vertex } of steps) {
      const n = (position.get(stage) ?? 0) + 1;
      position.set(stage, n);
      const kind = step.kind === 'copy' ? (step.add ? 'add' : 'copy') : step.kind;
      this.identities.set(vertex, {
        id: hashId([...base, stage.name ?? `#${stage.index}`, n, kind]),
        facts: {
          visibleArgs: step.kind === 'run' ? step.visibleArgs : [],
          inputLabels: step.kind === 'copy' ? ['source stage changed'] : step.kind === 'run' ? step.mounts.filter((m) => m.from).map(() => 'mount source changed') : [],
        },
      });
    }
  }

  async explain(vertex: Vertex<unknown>, info: SolvedInfo): Promise<string | undefined> {
    if (!info.cacheable) return this.opts.noCache ? '--no-cache' : '--no-cache-filter';
    const identity = this.identityOf(vertex);
    const previous = await this.read(identity.id);
    const history = this.opts.history;
    const selections = this.opts.selections;
    // Only a build with misses needs the differ: a no-op rebuild never loads it.
    const { explainMiss } = await import('./explain-diff.js');
    return explainMiss(previous, info, identity.facts,
      (digest) => history.readSelection(digest),
      async (digest) => selections.selection(digest) ?? history.readSelection(digest));
  }

  async remember(vertex: Vertex<unknown>, info: SolvedInfo): Promise<void> {
    const identity = this.identityOf(vertex);
    const previous = await this.read(identity.id);
    if (previous?.key === info.key) return;
    // Selections first: a step record never points at a missing file list.
    for (const digest of digestsIn(info.description)) {
      const entries = this.opts.selections.selection(digest);
      if (entries && !(await this.opts.history.hasSelection(digest))) await this.opts.history.writeSelection(digest, entries);
    }
    await this.opts.history.writeStep(identity.id, { key: info.key, description: info.description, inputKeys: [...info.inputKeys] });
  }

  /** The cache key of this step's previous build, as remembered before this build (a re-run COPY reuses its files). */
  async previousKey(vertex: Vertex<unknown>): Promise<string | undefined> {
    return (await this.read(this.identityOf(vertex).id).catch(() => undefined))?.key;
  }

  private read(id: string): Promise<StepRecord | undefined> {
    let p = this.previous.get(id);
    if (!p) {
      p = this.opts.history.readStep(id);
      this.previous.set(id, p);
    }
    return p;
  }

  // Vertices that are not Dockerfile steps (base images) are known by name,
  // without the digest that a new base image changes.
  private identityOf(vertex: Vertex<unknown>): StepIdentity {
    let identity = this.identities.get(vertex);
    if (!identity) {
      identity = { id: hashId([path.resolve(this.opts.dockerfilePath), vertex.name.replace(/@sha256:[0-9a-f]+$/, '')]), facts: { visibleArgs: [] } };
      this.identities.set(vertex, identity);
    }
    return identity;
  }
}

function hashId(parts: readonly unknown[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 40);
}

// Every `sha256:` string in a description: the candidates for selection checksums.
function digestsIn(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') {
    if (/^sha256:[0-9a-f]{64}$/.test(value)) out.push(value);
  } else if (Array.isArray(value)) {
    for (const v of value) digestsIn(v, out);
  } else if (value && typeof value === 'object') {
    for (const v of Object.values(value)) digestsIn(v, out);
  }
  return out;
}
