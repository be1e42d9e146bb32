#!/usr/bin/env node
// Lists the imports between the subfolders of builder/ (and between the
// top-level folders) and fails on what the layering forbids: a cycle
// between builder/ subfolders or between files, and an import that breaks the
// top-level rules (frontend/ and runner-native/ import nothing of the
// others; cache/ never imports builder/). Reads the TypeScript sources
// (static imports, `import type` and dynamic `import()` alike), so it
// needs no build.   node scripts/check-imports.js [--edges]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TOP = ['builder', 'frontend', 'cache', 'runner-native'];
const FORBIDDEN = { frontend: ['builder', 'cache', 'runner-native'], 'runner-native': ['builder', 'frontend', 'cache'], cache: ['builder'] };

function* sources(dir) {
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) yield* sources(p);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) yield p;
  }
}

// builder/<sub>/... → "builder/<sub>"; a file directly in builder/ is a
// unit of its own ("builder/errors.ts"); other/... → "other".
function unitOf(file) {
  const rel = path.relative(ROOT, file).split(path.sep);
  if (rel[0] === 'builder' && rel.length > 1) return `builder/${rel[1].replace(/\.js$/, '.ts')}`;
  return rel[0];
}

const IMPORT = /(?:import|export)\s[^'"]*?from\s*['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g;
const edges = new Map();   // unit → Map(unit → example "file → target")
const fileEdges = new Map();   // file → Set(file), for cycles between single files
const violations = [];
for (const top of TOP) {
  for (const file of sources(path.join(ROOT, top))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const target = path.resolve(path.dirname(file), m[1] ?? m[2]);
      const targetSource = target.replace(/\.js$/, '.ts');
      if (!fileEdges.has(file)) fileEdges.set(file, new Set());
      fileEdges.get(file).add(targetSource);
      const from = unitOf(file);
      const to = unitOf(target);
      const fromTop = from.split('/')[0];
      const toTop = to.split('/')[0];
      if (FORBIDDEN[fromTop]?.includes(toTop)) violations.push(`${path.relative(ROOT, file)} imports ${path.relative(ROOT, target)} (${fromTop} must not import ${toTop})`);
      if (from === to) continue;
      if (!edges.has(from)) edges.set(from, new Map());
      const out = edges.get(from);
      if (!out.has(to)) out.set(to, `${path.relative(ROOT, file)} → ${path.relative(ROOT, target)}`);
    }
  }
}

// Cycles: Tarjan's strongly connected components of a graph given as
// node → iterable of nodes.
function stronglyConnected(next) {
  let index = 0;
  const idx = new Map(), low = new Map(), stack = [], onStack = new Set(), result = [];
  const visit = (v) => {
    idx.set(v, index); low.set(v, index); index++;
    stack.push(v); onStack.add(v);
    for (const w of next(v)) {
      if (!idx.has(w)) { visit(w); low.set(v, Math.min(low.get(v), low.get(w))); }
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const comp = [];
      let w;
      do { w = stack.pop(); onStack.delete(w); comp.push(w); } while (w !== v);
      if (comp.length > 1) result.push(comp.sort());
    }
  };
  for (const v of nodes(next)) if (!idx.has(v)) visit(v);
  return result;
}

function nodes(next) {
  return next === unitNext ? [...edges.keys()] : [...fileEdges.keys()];
}
function unitNext(v) { return edges.get(v)?.keys() ?? []; }
function fileNext(v) { return fileEdges.get(v) ?? []; }

if (process.argv.includes('--edges')) {
  for (const [from, out] of [...edges].sort()) {
    for (const [to, example] of [...out].sort()) console.log(`${from} → ${to}    (${example})`);
  }
}
const cycles = stronglyConnected(unitNext);
for (const comp of cycles) {
  console.log(`cycle between ${comp.join(', ')}:`);
  for (const from of comp) for (const [to, example] of edges.get(from) ?? []) if (comp.includes(to)) console.log(`  ${example}`);
}
// Files that import each other (directly or around a circle), in any folder.
const fileCycles = stronglyConnected(fileNext);
for (const comp of fileCycles) console.log(`cycle between files: ${comp.map((f) => path.relative(ROOT, f)).join(', ')}`);
cycles.push(...fileCycles);
for (const v of violations) console.log(`forbidden: ${v}`);
if (cycles.length > 0 || violations.length > 0) process.exit(1);
console.log(`ok: ${edges.size} folders, ${fileEdges.size} files: no cycle between builder/ subfolders or between files, top-level rules kept`);
