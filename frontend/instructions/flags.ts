/**
 * Instruction flags (`--name[=value]`), checked as BuildKit's BFlags does:
 * only declared names, no repeats except for repeatable flags, booleans take
 * no value or true/false, strings need `=value`.
 */
import { InstructionContext, suggest } from './context.js';

export type FlagKind = 'bool' | 'string' | 'strings';
export type FlagSpec = Readonly<Record<string, FlagKind>>;

export interface ParsedFlags {
  bool(name: string): boolean | undefined;
  string(name: string): string | undefined;
  strings(name: string): string[];
  has(name: string): boolean;
}

export function parseFlags(ctx: InstructionContext, spec: FlagSpec): ParsedFlags {
  const values = new Map<string, string | boolean | string[]>();
  for (const raw of ctx.node.flags) {
    if (!raw.startsWith('--')) ctx.fail('BAD_FLAG', `arg should start with -- : ${raw}`, raw);
    const eq = raw.indexOf('=');
    const flagName = eq < 0 ? raw : raw.slice(0, eq);
    const value = eq < 0 ? undefined : raw.slice(eq + 1);
    const name = flagName.slice(2);
    const kind = Object.hasOwn(spec, name) ? spec[name] : undefined;
    if (!kind) {
      const hint = suggest(name, Object.keys(spec));
      const known = Object.keys(spec).length === 0 ? ` (${ctx.name} takes no flags)` : '';
      ctx.fail('UNKNOWN_FLAG', `unknown flag: ${flagName}${known}${hint ? ` (did you mean --${hint}?)` : ''}`, flagName);
    }
    if (values.has(name) && kind !== 'strings') ctx.fail('DUPLICATE_FLAG', `duplicate flag specified: ${flagName}`, flagName);
    switch (kind) {
      case 'bool': {
        if (value === '') ctx.fail('BAD_FLAG_VALUE', `missing a value on flag: ${flagName}`, flagName);
        const lower = value?.toLowerCase();
        if (lower === undefined || lower === 'true') values.set(name, true);
        else if (lower === 'false') values.set(name, false);
        else ctx.fail('BAD_FLAG_VALUE', `expecting boolean value for flag ${flagName}, not: ${value}`, flagName);
        break;
      }
      case 'string':
        if (value === undefined) ctx.fail('BAD_FLAG_VALUE', `missing a value on flag: ${flagName}`, flagName);
        values.set(name, value);
        break;
      case 'strings': {
        if (value === undefined) ctx.fail('BAD_FLAG_VALUE', `missing a value on flag: ${flagName}`, flagName);
        const list = (values.get(name) as string[] | undefined) ?? [];
        list.push(value);
        values.set(name, list);
        break;
      }
    }
  }
  return {
    bool: (name) => values.get(name) as boolean | undefined,
    string: (name) => values.get(name) as string | undefined,
    strings: (name) => (values.get(name) as string[] | undefined) ?? [],
    has: (name) => values.has(name),
  };
}
