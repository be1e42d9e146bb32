// Settings of the cache's garbage collection, and the parsers of the sizes
// and durations users write for them.
//
// The size limit enforced after every successful build, first found of:
//   - env TSBUILD_GC_KEEP_STORAGE, e.g. `10GB` (`0` or `off`: no limit)
//   - `<store root>/config.json`: { "gc": { "keepStorage": "10GB" } }
// Unset means no automatic collection (`tsbuild prune` still works).
import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

export class GcSettingError extends Error {
  readonly userError = true;
  constructor(readonly code: 'INVALID_SIZE' | 'INVALID_DURATION' | 'INVALID_CONFIG', message: string) {
    super(message);
    this.name = 'GcSettingError';
  }
}

const UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1024, kb: 1024, kib: 1024,
  m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2,
  g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3,
  t: 1024 ** 4, tb: 1024 ** 4, tib: 1024 ** 4,
};

/** `10GB`, `512MiB`, `1.5g`, `1048576` → bytes (binary units, like docker's --keep-storage). */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new GcSettingError('INVALID_SIZE', `invalid size "${text}" (expected e.g. 500MB, 10GB or a number of bytes)`);
  return Math.floor(Number(m[1]) * unit);
}

/** `1.5GB`, `12.3MB`, `512B`: binary units, one decimal. */
export function formatSize(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v}B` : `${v.toFixed(1)}${units[i]}`;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Go-style durations as docker's `until=` filter takes them: `24h`, `1h30m`, `90s`, plus `7d`. */
export function parseDuration(text: string): number {
  const parts = [...text.trim().matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text.trim()) {
    throw new GcSettingError('INVALID_DURATION', `invalid duration "${text}" (expected e.g. 24h, 1h30m, 45m, 7d)`);
  }
  return parts.reduce((ms, p) => ms + Number(p[1]) * DURATION_UNITS[p[2]!]!, 0);
}

/** The configured size limit in bytes, or undefined when there is none. */
export async function configuredKeepStorage(storeRoot: string, env: NodeJS.ProcessEnv = process.env): Promise<number | undefined> {
  const fromEnv = env.TSBUILD_GC_KEEP_STORAGE;
  if (fromEnv !== undefined && fromEnv !== '') return limitOf(fromEnv, 'TSBUILD_GC_KEEP_STORAGE');
  let config: { gc?: { keepStorage?: string | number } };
  try {
    // Synchronous: read by every build, usually absent (one failed open, not a threadpool round trip).
    config = JSON.parse(readFileSync(path.join(storeRoot, 'config.json'), 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new GcSettingError('INVALID_CONFIG', `${path.join(storeRoot, 'config.json')}: ${(err as Error).message}`);
  }
  const v = config.gc?.keepStorage;
  return v === undefined ? undefined : limitOf(String(v), `${path.join(storeRoot, 'config.json')} gc.keepStorage`);
}

function limitOf(text: string, where: string): number | undefined {
  if (text === 'off' || text === '0') return undefined;
  try {
    return parseSize(text);
  } catch (err) {
    throw new GcSettingError('INVALID_CONFIG', `${where}: ${(err as Error).message}`);
  }
}

/** Snapshot dirs named in containers' configs (their overlay lowerdirs): in use outside builds. */
export async function containerSnapshotDirs(containersDir: string, snapshotsDir: string): Promise<string[]> {
  const out = new Set<string>();
  const prefix = path.resolve(snapshotsDir) + '/';
  const pattern = new RegExp(escapeRegExp(prefix) + '([0-9a-f]+)', 'g');
  for (const id of await readdir(containersDir).catch(() => [] as string[])) {
    const text = await readFile(path.join(containersDir, id, 'config.json'), 'utf8').catch(() => '');
    for (const m of text.matchAll(pattern)) out.add(prefix + m[1]);
  }
  return [...out];
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
