// How the expander sees variables. A plain function keeps callers free to
// back it with whatever they have (a Map, build args layered over ENV, ...).

/**
 * Look a variable up by name: the value (possibly `''`: set but empty), or
 * `undefined` when the variable is not set at all. The distinction matters:
 * `${X-d}` only substitutes `d` for an unset `X`, `${X:-d}` also for an empty one.
 */
export type EnvLookup = (name: string) => string | undefined;

/** Build a lookup from `[name, value]` pairs; a later pair wins over an earlier one with the same name. */
export function envFromPairs(pairs: Iterable<readonly [string, string]>): EnvLookup {
  const values = new Map<string, string>();
  for (const [name, value] of pairs) values.set(name, value);
  return (name) => values.get(name);
}

/** Split `NAME=value` strings (value may be empty or contain `=`) into pairs; a string without `=` is `NAME` with an empty value. */
export function pairsFromAssignments(assignments: Iterable<string>): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const a of assignments) {
    const eq = a.indexOf('=');
    pairs.push(eq < 0 ? [a, ''] : [a.slice(0, eq), a.slice(eq + 1)]);
  }
  return pairs;
}
