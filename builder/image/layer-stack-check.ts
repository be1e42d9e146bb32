// Judging a whole image's layers before it is tagged, without unpacking
// them: a model of the file tree (what each path is: directory, symlink or
// something else) replays every layer's entries in order, the way the
// layer applier (cache/tar-entry-applier.ts, overlay mode) will when a build
// first uses the image. It refuses, at load or pull time, what the applier
// would refuse later: an entry whose parent is a symlink (in the same layer
// or a lower one), a parent that is a file, an invalid whiteout name, a
// non-directory at the layer root and a hard link to the root, to a
// directory or to nothing.

import { normalizeEntryName } from '../../cache/safe-path.js';
import type { TarType } from '../../cache/tar-format.js';
import { OPAQUE_WHITEOUT, WHITEOUT_META_PREFIX, WHITEOUT_PREFIX } from '../../cache/whiteout.js';

/** What the stack check needs of one tar entry. */
export interface LayerEntry {
  name: string;
  type: TarType;
  linkname: string;
}

type Kind = 'dir' | 'symlink' | 'other' | 'whiteout';

interface TreeNode {
  kind: Kind;
  /** Directories only. */
  children?: Map<string, TreeNode>;
  /** An opaque directory of the layer being replayed: lower content below it is hidden. */
  opaque?: boolean;
}

class RefusedEntry extends Error {}

const dir = (): TreeNode => ({ kind: 'dir', children: new Map() });

function child(node: TreeNode | undefined, name: string): TreeNode | undefined {
  return node?.kind === 'dir' ? node.children!.get(name) : undefined;
}

/** One layer replayed as an overlay upper directory over the merged lower tree. */
class LayerReplay {
  readonly upper = dir();

  constructor(private readonly lower: TreeNode) {}

  apply(e: LayerEntry): void {
    const rel = normalizeEntryName(e.name);
    if (rel === '') {
      if (e.type !== 'dir') throw new RefusedEntry(`entry ${JSON.stringify(e.name)}: a non-directory entry names the layer root`);
      return;
    }
    const parts = rel.split('/');
    const base = parts[parts.length - 1]!;
    if (base.startsWith(WHITEOUT_PREFIX)) return this.whiteout(e.name, parts.slice(0, -1), base);
    if (e.type === 'link') this.checkHardLink(e);
    const parent = this.parentDir(parts.slice(0, -1), e.name);
    const existing = parent.children!.get(base);
    if (e.type === 'dir') {
      if (existing?.kind !== 'dir') parent.children!.set(base, dir());
      return;
    }
    parent.children!.set(base, { kind: e.type === 'symlink' ? 'symlink' : 'other' });
  }

  private whiteout(entryName: string, dirParts: string[], base: string): void {
    if (base === OPAQUE_WHITEOUT) {
      this.parentDir(dirParts, entryName).opaque = true;
      return;
    }
    if (base.startsWith(WHITEOUT_META_PREFIX)) return;
    const victim = base.slice(WHITEOUT_PREFIX.length);
    if (victim === '' || victim === '.' || victim === '..') throw new RefusedEntry(`entry ${JSON.stringify(entryName)}: invalid whiteout name`);
    this.parentDir(dirParts, entryName).children!.set(victim, { kind: 'whiteout' });
  }

  private checkHardLink(e: LayerEntry): void {
    const target = normalizeEntryName(e.linkname, e.name, 'hard link target');
    if (target === '') throw new RefusedEntry(`entry ${JSON.stringify(e.name)}: hard link to the layer root`);
    let upper: TreeNode | undefined = this.upper;
    let lower: TreeNode | undefined = this.lower;
    let found: TreeNode | undefined;
    for (const part of target.split('/')) {
      if (found) {
        if (found.kind === 'symlink') throw new RefusedEntry(`entry ${JSON.stringify(e.name)}: hard link target ${JSON.stringify(e.linkname)} goes through a symlink`);
        if (found.kind !== 'dir') break;
      }
      upper = child(upper, part);
      lower = child(lower, part);
      found = upper ?? lower;
      if (!found) break;
    }
    if (!found || found.kind === 'whiteout') throw new RefusedEntry(`entry ${JSON.stringify(e.name)}: hard link to missing ${JSON.stringify(e.linkname)}`);
    if (found.kind === 'dir') throw new RefusedEntry(`entry ${JSON.stringify(e.name)}: hard link to a directory`);
  }

  /** The upper directory node for `parts`, made as the applier makes implicit parents; refuses what it refuses. */
  private parentDir(parts: string[], entryName: string): TreeNode {
    let upper = this.upper;
    let lower: TreeNode | undefined = this.lower;
    let walked = '';
    for (const part of parts) {
      walked = walked === '' ? part : `${walked}/${part}`;
      lower = child(lower, part);
      let next = upper.children!.get(part);
      if (!next) {
        // Missing here: the applier makes the directory, modelled on the lower layer's.
        if (lower?.kind === 'symlink') throw new RefusedEntry(`entry ${JSON.stringify(entryName)}: its parent ${walked} is a symlink in a lower layer`);
        if (lower && lower.kind !== 'dir') throw new RefusedEntry(`entry ${JSON.stringify(entryName)}: its parent ${walked} is not a directory in a lower layer`);
        next = dir();
        upper.children!.set(part, next);
      } else if (next.kind === 'symlink') {
        throw new RefusedEntry(`entry ${JSON.stringify(entryName)}: its parent ${walked} is a symlink`);
      } else if (next.kind !== 'dir') {
        throw new RefusedEntry(`entry ${JSON.stringify(entryName)}: its parent ${walked} is not a directory`);
      }
      upper = next;
    }
    return upper;
  }
}

/** Folds a replayed upper tree into the lower one (whiteouts delete, opaque directories hide what was below). Iterative: paths may be deep. */
function merge(lowerRoot: TreeNode, upperRoot: TreeNode): void {
  const work: Array<[TreeNode, TreeNode]> = [[lowerRoot, upperRoot]];
  for (let pair = work.pop(); pair; pair = work.pop()) {
    const [lower, upper] = pair;
    if (upper.opaque) lower.children!.clear();
    for (const [name, u] of upper.children!) {
      if (u.kind === 'whiteout') {
        lower.children!.delete(name);
        continue;
      }
      const l = lower.children!.get(name);
      if (u.kind === 'dir') {
        const target = l?.kind === 'dir' ? l : dir();
        lower.children!.set(name, target);
        work.push([target, u]);
      } else {
        lower.children!.set(name, { kind: u.kind });
      }
    }
  }
}

/**
 * Replays the layers (bottom first) and returns one problem per refused
 * layer, naming the layer and its first refused entry; [] when every
 * layer would apply.
 */
export function checkLayerStack(layers: Array<{ label: string; entries: LayerEntry[] }>): string[] {
  const problems: string[] = [];
  const merged = dir();
  for (const layer of layers) {
    const replay = new LayerReplay(merged);
    try {
      for (const e of layer.entries) replay.apply(e);
    } catch (e) {
      if (!(e instanceof RefusedEntry) && !(e as { userError?: boolean }).userError) throw e;
      problems.push(`${layer.label}: ${(e as Error).message}`);
      // Later layers are judged against what the lower ones would leave; a refused layer leaves nothing sensible.
      break;
    }
    merge(merged, replay.upper);
  }
  return problems;
}
