// Run cgroups that no run record explains: a tsbuild killed between making
// a run's cgroup and removing it, whose state dir went away too (a
// temporary TSBUILD_ROOT, a wiped store), leaves `<parent>/<run id>` in
// every hierarchy for good, and cleanupStale (state.ts) never sees it.
// A run's cgroup holds the helper from the moment it exists (the helper
// joins it before anything runs) until the run removes it, so one that is
// empty and older than any run's set-up is abandoned: removing it cannot
// disturb a run, whichever store or process made it.
import { readdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CGROUP_ROOT, cgroupHandleFor } from './cgroup.js';

/** Run ids (sandbox.ts) are 16 hex digits; containers (`ctr-…`) have their own reaper. */
const RUN_ID = /^[0-9a-f]{16}$/;
/** Far above the few milliseconds between a cgroup's mkdir and the helper joining it. */
export const ABANDONED_CGROUP_MS = 60_000;

/** Removes the empty, old run cgroups under `parent`; returns the run ids removed. */
export function removeAbandonedCgroups(parent: string, root = CGROUP_ROOT, minAgeMs = ABANDONED_CGROUP_MS): string[] {
  let parentDirs: string[];
  try {
    parentDirs = cgroupHandleFor(parent, root).dirs;
  } catch {
    return []; // no cgroup hierarchy here, or a parent path we would not make either
  }
  // one run's cgroup is a dir in every hierarchy: it is abandoned only if all of them are
  const byRun = new Map<string, string[]>();
  for (const dir of parentDirs) {
    let names: string[];
    try { names = readdirSync(dir); } catch { continue; }
    for (const name of names) if (RUN_ID.test(name)) byRun.set(name, [...(byRun.get(name) ?? []), join(dir, name)]);
  }
  const now = Date.now();
  const removed: string[] = [];
  for (const [id, cgroups] of byRun) {
    if (!cgroups.every((cgroup) => isEmptyAndOld(cgroup, now - minAgeMs))) continue;
    for (const cgroup of cgroups) {
      try { rmdirSync(cgroup); } catch { /* gone meanwhile, or joined after all: not ours to force */ }
    }
    removed.push(id);
  }
  return removed;
}

function isEmptyAndOld(cgroup: string, bornBefore: number): boolean {
  try {
    return statSync(cgroup).mtimeMs < bornBefore && readFileSync(join(cgroup, 'cgroup.procs'), 'utf8').trim() === '';
  } catch {
    return false; // gone meanwhile, or not a cgroup
  }
}
