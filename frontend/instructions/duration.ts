/**
 * Go's time.ParseDuration (`1h30m`, `1.5s`, `300ms`, `-2us`), returning
 * nanoseconds, because HEALTHCHECK durations are written that way and stored
 * in the image config as nanoseconds.
 */

const UNIT_NANOS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  'µs': 1_000n, // U+00B5 micro sign
  'μs': 1_000n, // U+03BC Greek mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};
const MAX_INT64 = (1n << 63n) - 1n;

export class DurationError extends Error {}

export function parseGoDuration(text: string): number {
  const invalid = () => new DurationError(`time: invalid duration ${JSON.stringify(text)}`);
  let s = text;
  let negative = false;
  if (s.startsWith('-') || s.startsWith('+')) {
    negative = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw invalid();
  let total = 0n;
  while (s.length > 0) {
    const m = /^(\d*)(?:\.(\d*))?/.exec(s)!;
    const whole = m[1] ?? '';
    const frac = m[2];
    if (whole === '' && (frac === undefined || frac === '')) throw invalid();
    s = s.slice(m[0].length);
    const unitMatch = /^[^\d.]+/.exec(s);
    if (!unitMatch) throw new DurationError(`time: missing unit in duration ${JSON.stringify(text)}`);
    const unit = UNIT_NANOS[unitMatch[0]];
    if (unit === undefined) throw new DurationError(`time: unknown unit ${JSON.stringify(unitMatch[0])} in duration ${JSON.stringify(text)}`);
    s = s.slice(unitMatch[0].length);
    let nanos = BigInt(whole || '0') * unit;
    if (frac) {
      // Fraction of the unit, truncated to whole nanoseconds as Go does.
      nanos += (BigInt(frac) * unit) / 10n ** BigInt(frac.length);
    }
    total += nanos;
    if (total > MAX_INT64 + (negative ? 1n : 0n)) throw invalid();
  }
  return Number(negative ? -total : total);
}
