// `ps --filter` as docker reads it: `key=value` pairs; values of one key
// are alternatives (any may match), different keys must all match.
// status=created|restarting|running|exited (docker's names), name=regexp,
// label=KEY or KEY=VALUE, ancestor=image name[:tag] or id, id=prefix,
// exited=CODE.
import type { Container } from './container-store.js';
import { ContainerError } from './errors.js';

export type Filters = Map<string, string[]>;
const KEYS = new Set(['status', 'name', 'label', 'ancestor', 'id', 'exited']);

export function parseFilters(flags: string[], allowed: Set<string> = KEYS): Filters {
  const out: Filters = new Map();
  for (const f of flags) {
    const eq = f.indexOf('=');
    const key = eq < 0 ? f : f.slice(0, eq);
    if (eq < 0 || !allowed.has(key)) throw new ContainerError('INVALID_RUN_OPTION', `invalid filter '${f}'${allowed.has(key) ? '' : ` (supported: ${[...allowed].join(', ')})`}`);
    out.set(key, [...(out.get(key) ?? []), f.slice(eq + 1)]);
  }
  return out;
}

export function containerStatusName(c: Container): string {
  if (c.state.restarting) return 'restarting';
  return c.state.status;
}

export function labelMatches(labels: Record<string, string> | undefined, wanted: string): boolean {
  const eq = wanted.indexOf('=');
  if (eq < 0) return Object.hasOwn(labels ?? {}, wanted);
  return (labels ?? {})[wanted.slice(0, eq)] === wanted.slice(eq + 1);
}

function imageMatches(c: Container, wanted: string): boolean {
  const id = c.config.imageId.replace(/^sha256:/, '');
  if (/^(sha256:)?[0-9a-f]{4,64}$/.test(wanted) && id.startsWith(wanted.replace(/^sha256:/, ''))) return true;
  const named = c.config.image;
  const withTag = (ref: string) => (/:[^/]+$/.test(ref) || ref.includes('@') ? ref : `${ref}:latest`);
  return withTag(named) === withTag(wanted) || named === wanted;
}

export function matchesFilters(c: Container, filters: Filters): boolean {
  const test = (key: string, fn: (v: string) => boolean) => !filters.has(key) || filters.get(key)!.some(fn);
  return test('status', (v) => containerStatusName(c) === v)
    && test('name', (v) => new RegExp(v).test(c.config.name))
    && filters.get('label')?.every((v) => labelMatches(c.config.labels, v)) !== false
    && test('ancestor', (v) => imageMatches(c, v))
    && test('id', (v) => c.config.id.startsWith(v))
    && test('exited', (v) => c.state.status === 'exited' && String(c.state.exitCode) === v);
}
