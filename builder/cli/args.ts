// Docker-style flag parsing: `--flag value`, `--flag=value`, `-t value`,
// `-tvalue`, repeated flags collect into lists, `--` ends the flags.
// Kept dependency-free because `tsbuild --version` must start fast.

export type FlagType = 'bool' | 'string' | 'list';

export interface FlagSpec {
  name: string;            // long name without dashes, e.g. 'build-arg'
  short?: string;          // single letter, e.g. 't'
  type: FlagType;
  help: string;
  metavar?: string;
}

export interface ParsedArgs {
  flags: Map<string, string | boolean | string[]>;
  positionals: string[];
}

import { UsageError } from '../errors.js';

export interface ParseOptions {
  // `run IMAGE CMD...`: everything after the first positional belongs to the command.
  stopAtFirstPositional?: boolean;
}

export function parseArgs(argv: string[], specs: FlagSpec[], opts: ParseOptions = {}): ParsedArgs {
  const byLong = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));
  const flags = new Map<string, string | boolean | string[]>();
  const positionals: string[] = [];
  const set = (spec: FlagSpec, value: string | boolean) => {
    if (spec.type === 'list') {
      const list = (flags.get(spec.name) as string[] | undefined) ?? [];
      list.push(String(value));
      flags.set(spec.name, list);
    } else {
      flags.set(spec.name, value);
    }
  };
  let i = 0;
  const takeValue = (spec: FlagSpec, shown: string): string => {
    if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: ${shown}`);
    return argv[++i];
  };
  for (; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = arg.slice(2, eq < 0 ? undefined : eq);
      const spec = byLong.get(name);
      if (!spec) throw new UsageError(`unknown flag: --${name}`);
      if (spec.type === 'bool') {
        const v = eq < 0 ? 'true' : arg.slice(eq + 1);
        if (v !== 'true' && v !== 'false') throw new UsageError(`invalid value "${v}" for flag --${name}: expected true or false`);
        set(spec, v === 'true');
      } else {
        set(spec, eq < 0 ? takeValue(spec, `--${name}`) : arg.slice(eq + 1));
      }
      continue;
    }
    if (arg.startsWith('-') && arg.length > 1) {
      // Bool shorts may be grouped (`-qd`); a value short takes the rest or the next arg.
      for (let j = 1; j < arg.length; j++) {
        const spec = byShort.get(arg[j]);
        if (!spec) throw new UsageError(`unknown shorthand flag: '${arg[j]}' in ${arg}`);
        if (spec.type === 'bool') {
          set(spec, true);
          continue;
        }
        const rest = arg.slice(j + 1).replace(/^=/, '');
        set(spec, rest !== '' ? rest : takeValue(spec, `-${arg[j]}`));
        break;
      }
      continue;
    }
    positionals.push(arg);
    if (opts.stopAtFirstPositional) {
      positionals.push(...argv.slice(i + 1));
      break;
    }
  }
  return { flags, positionals };
}

export function getString(a: ParsedArgs, name: string): string | undefined {
  const v = a.flags.get(name);
  return typeof v === 'string' ? v : undefined;
}

export function getBool(a: ParsedArgs, name: string): boolean {
  return a.flags.get(name) === true;
}

export function getList(a: ParsedArgs, name: string): string[] {
  const v = a.flags.get(name);
  return Array.isArray(v) ? v : [];
}

export function formatFlagHelp(specs: FlagSpec[]): string {
  const rows = specs.map((s) => {
    const left = `${s.short ? `-${s.short}, ` : '    '}--${s.name}${s.type === 'bool' ? '' : ` ${s.metavar ?? (s.type === 'list' ? 'list' : 'string')}`}`;
    return [left, s.help];
  });
  const width = Math.max(...rows.map((r) => r[0].length)) + 2;
  return rows.map(([l, h]) => `  ${l.padEnd(width)}${h}`).join('\n');
}
