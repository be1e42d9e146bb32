// `tsbuild stats`: resource use of a running container, read from its
// cgroup (v1 or v2) and its network namespace, in docker's units.
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Container } from './container-store.js';
import { cgroupMembers } from './init-process.js';

const ROOT = '/sys/fs/cgroup';
const TICK_NS = 1e9 / 100; // USER_HZ is 100 on Linux

export interface StatsSample {
  cpuNs: number;
  memUsage: number;
  memLimit: number;
  pids: number;
  netRx: number;
  netTx: number;
  blockRead: number;
  blockWrite: number;
}

const read = (file: string) => readFile(file, 'utf8').then((s) => s.trim(), () => null);

function statField(text: string | null, key: string): number {
  const m = text === null ? null : new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

async function isV2(): Promise<boolean> {
  return (await read(join(ROOT, 'cgroup.controllers'))) !== null;
}

/** CPU time of the members when there is no cpuacct cgroup of our own (v1: the sandbox makes memory, cpu and pids only). */
async function cpuOfMembers(pids: number[]): Promise<number> {
  let ticks = 0;
  for (const pid of pids) {
    const stat = await read(`/proc/${pid}/stat`);
    const fields = stat?.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks * TICK_NS;
}

async function network(pid: number | undefined): Promise<{ rx: number; tx: number }> {
  const text = pid === undefined ? null : await read(`/proc/${pid}/net/dev`);
  let rx = 0;
  let tx = 0;
  for (const line of text?.split('\n').slice(2) ?? []) {
    const [name, rest] = line.split(':');
    if (!rest || name!.trim() === 'lo') continue;
    const f = rest.trim().split(/\s+/).map(Number);
    rx += f[0]!;
    tx += f[8]!;
  }
  return { rx, tx };
}

export async function sampleStats(c: Container): Promise<StatsSample> {
  const rel = c.config.spec.linux.cgroupsPath!;
  const pids = await cgroupMembers(rel);
  const total = os.totalmem();
  const net = await network(c.state.init?.pid);
  if (await isV2()) {
    const dir = join(ROOT, rel);
    const mem = await read(join(dir, 'memory.stat'));
    const max = await read(join(dir, 'memory.max'));
    const io = (await read(join(dir, 'io.stat'))) ?? '';
    return {
      cpuNs: statField(await read(join(dir, 'cpu.stat')), 'usage_usec') * 1000,
      memUsage: Math.max(0, Number((await read(join(dir, 'memory.current'))) ?? 0) - statField(mem, 'inactive_file')),
      memLimit: max === null || max === 'max' ? total : Math.min(Number(max), total),
      pids: Number((await read(join(dir, 'pids.current'))) ?? pids.length),
      netRx: net.rx,
      netTx: net.tx,
      blockRead: [...io.matchAll(/rbytes=(\d+)/g)].reduce((a, m) => a + Number(m[1]), 0),
      blockWrite: [...io.matchAll(/wbytes=(\d+)/g)].reduce((a, m) => a + Number(m[1]), 0),
    };
  }
  const mem = await read(join(ROOT, 'memory', rel, 'memory.stat'));
  const cpuacct = await read(join(ROOT, 'cpuacct', rel, 'cpuacct.usage'));
  const limit = Number((await read(join(ROOT, 'memory', rel, 'memory.limit_in_bytes'))) ?? total);
  return {
    cpuNs: cpuacct !== null ? Number(cpuacct) : await cpuOfMembers(pids),
    memUsage: Math.max(0, Number((await read(join(ROOT, 'memory', rel, 'memory.usage_in_bytes'))) ?? 0) - statField(mem, 'total_inactive_file')),
    memLimit: Math.min(limit, total),
    pids: Number((await read(join(ROOT, 'pids', rel, 'pids.current'))) ?? pids.length),
    netRx: net.rx,
    netTx: net.tx,
    blockRead: 0,
    blockWrite: 0,
  };
}

/** Two samples `intervalMs` apart: CPU % as docker computes it (100% = one CPU busy). */
export async function measure(c: Container, intervalMs = 500): Promise<StatsSample & { cpuPercent: number }> {
  const first = await sampleStats(c);
  const start = process.hrtime.bigint();
  await sleep(intervalMs);
  const second = await sampleStats(c);
  const elapsedNs = Number(process.hrtime.bigint() - start);
  return { ...second, cpuPercent: elapsedNs > 0 ? (Math.max(0, second.cpuNs - first.cpuNs) / elapsedNs) * 100 : 0 };
}

/** docker's units.BytesSize: 1.5MiB, 7.7GiB. */
export function binarySize(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${Number(n.toPrecision(4))}${units[i]}`;
}

/** docker's units.HumanSizeWithPrecision(n, 3): 1.2kB, 648B. */
export function decimalSize(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return `${Number(n.toPrecision(3))}${units[i]}`;
}
