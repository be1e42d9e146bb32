// "did you mean ...?" hints, as BuildKit's util/suggest: the closest option
// within an edit distance of 2; none when the value matches exactly.
import { editDistance } from '../edit-distance.js';

function matchCase(option: string, original: string): string {
  if (original === original.toLowerCase()) return option.toLowerCase();
  if (original === original.toUpperCase()) return option.toUpperCase();
  return option;
}

export function suggestName(value: string, options: Iterable<string>, caseSensitive: boolean): string | undefined {
  const val = caseSensitive ? value : value.toLowerCase();
  let match: string | undefined;
  let best = 3;
  for (const raw of options) {
    const opt = caseSensitive ? raw : raw.toLowerCase();
    if (opt === val) return undefined;
    const d = editDistance(val, opt);
    if (d < best) {
      best = d;
      match = caseSensitive ? opt : matchCase(opt, value);
    }
  }
  return match;
}
