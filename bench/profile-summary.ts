// Summarises a V8 CPU profile (`node --cpu-prof`, or
// `NODE_OPTIONS=--cpu-prof tsbuild build ...`): where the process spent
// its time, by function (self time) and by source file.
//
//   node dist/bench/profile-summary.js PROFILE.cpuprofile [--top N]
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface CallFrame { functionName: string; url: string; lineNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame; children?: number[] }
interface Profile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

const args = process.argv.slice(2);
const topAt = args.indexOf('--top');
const TOP = topAt >= 0 ? Number(args.splice(topAt, 2)[1]) : 15;
const file = args[0];
if (!file) {
  console.error('usage: profile-summary PROFILE.cpuprofile [--top N]');
  process.exit(2);
}

const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));

const byFunction = new Map<string, number>();
const byFile = new Map<string, number>();
for (const [id, us] of selfUs) {
  const f = byId.get(id)!.callFrame;
  const where = f.url ? `${path.basename(f.url)}:${f.lineNumber + 1}` : '';
  const name = `${f.functionName || '(anonymous)'} ${where}`.trim();
  byFunction.set(name, (byFunction.get(name) ?? 0) + us);
  const fileKey = f.url ? path.basename(f.url) : `(${f.functionName})`;
  byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + us);
}

const totalMs = (profile.endTime - profile.startTime) / 1000;
const print = (title: string, m: Map<string, number>) => {
  console.log(title);
  for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, TOP)) {
    console.log(`  ${(us / 1000).toFixed(0).padStart(7)} ms ${((us / 1000 / totalMs) * 100).toFixed(1).padStart(5)}%  ${k}`);
  }
};
console.log(`${file}: ${totalMs.toFixed(0)} ms profiled`);
print('self time by function:', byFunction);
print('self time by file:', byFile);
