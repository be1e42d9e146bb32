// Parsing of docker's `key=value,key=value` option strings (--output,
// --secret, --cache-to, ...) and of `K=V` lists (--build-arg, --label).
import { UsageError } from '../errors.js';

// Splits on commas outside double quotes, as docker's CSV-based flags do.
export function parseCsvSpec(spec: string, flag: string): Map<string, string> {
  const out = new Map<string, string>();
  const fields: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of spec) {
    if (ch === '"') { quoted = !quoted; continue; }
    if (ch === ',' && !quoted) { fields.push(cur); cur = ''; continue; }
    cur += ch;
  }
  if (quoted) throw new UsageError(`invalid ${flag} "${spec}": unterminated quote`);
  fields.push(cur);
  for (const field of fields) {
    if (field === '') continue;
    const eq = field.indexOf('=');
    if (eq < 0) out.set(field.trim(), '');
    else out.set(field.slice(0, eq).trim(), field.slice(eq + 1));
  }
  return out;
}

// `--build-arg K=V`; `--build-arg K` takes K from the environment (docker does this).
export function parseKeyValues(items: string[], flag: string, env: NodeJS.ProcessEnv = process.env): Map<string, string> {
  const out = new Map<string, string>();
  for (const item of items) {
    const eq = item.indexOf('=');
    const key = eq < 0 ? item : item.slice(0, eq);
    if (key === '') throw new UsageError(`invalid ${flag} "${item}": empty key`);
    if (eq >= 0) out.set(key, item.slice(eq + 1));
    else if (env[key] !== undefined) out.set(key, env[key]!);
  }
  return out;
}
