// An ordered variable list, like BuildKit's llb EnvList: setting an existing
// name replaces its value in place; lookups are case-sensitive (Linux).
import type { EnvLookup } from '../shell/index.js';

export class VarList {
  private readonly values: Map<string, string>;

  constructor(entries: Iterable<readonly [string, string]> = []) {
    this.values = new Map(entries);
  }

  static fromAssignments(assignments: readonly string[] | undefined): VarList {
    const list = new VarList();
    for (const a of assignments ?? []) {
      const eq = a.indexOf('=');
      list.set(eq < 0 ? a : a.slice(0, eq), eq < 0 ? '' : a.slice(eq + 1));
    }
    return list;
  }

  get(name: string): string | undefined {
    return this.values.get(name);
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  set(name: string, value: string): void {
    this.values.set(name, value);
  }

  delete(name: string): void {
    this.values.delete(name);
  }

  keys(): string[] {
    return [...this.values.keys()];
  }

  /** `NAME=value` strings in order. */
  assignments(): string[] {
    return [...this.values].map(([k, v]) => `${k}=${v}`);
  }

  clone(): VarList {
    return new VarList(this.values);
  }

  get lookup(): EnvLookup {
    return (name) => this.values.get(name);
  }
}

/** Sets `key=value` in a config Env array (replacing an existing entry in place), as BuildKit's addEnv. */
export function setEnvAssignment(env: string[], key: string, value: string): string[] {
  const out = [...env];
  const i = out.findIndex((e) => (e.includes('=') ? e.slice(0, e.indexOf('=')) : e) === key);
  if (i >= 0) out[i] = `${key}=${value}`;
  else out.push(`${key}=${value}`);
  return out;
}
