// Go's fmt verbs as BuildKit uses them in history `created_by` strings, so
// our history reads exactly like BuildKit's: `CMD ["sh" "-c" "x"]`,
// `VOLUME [/a /b]`, `HEALTHCHECK {Test:[...] Interval:30s ...}`.
import { goQuote } from '../parser/index.js';
import type { HealthConfig } from './types.js';

/** `%q` of a []string: `["a" "b"]`. */
export function goQuotedList(values: readonly string[] | null | undefined): string {
  return `[${(values ?? []).map(goQuote).join(' ')}]`;
}

/** `%v` of a []string: `[a b]`. */
export function goList(values: readonly string[] | null | undefined): string {
  return `[${(values ?? []).join(' ')}]`;
}

/** Fraction digits of `v` (prec digits, trailing zeros dropped) and what is left above them. */
function fraction(v: number, prec: number): [string, number] {
  let digits = '';
  let significant = false;
  for (let i = 0; i < prec; i++) {
    const digit = v % 10;
    significant ||= digit !== 0;
    if (significant) digits = String(digit) + digits;
    v = Math.floor(v / 10);
  }
  return [digits ? `.${digits}` : '', v];
}

/** time.Duration.String(): `0s`, `1.5s`, `1m30s`, `1h0m0s`, `500ms`, `2µs`. */
export function goDuration(nanos: number): string {
  const negative = nanos < 0;
  let u = Math.abs(Math.trunc(nanos));
  let out: string;
  if (u === 0) return '0s';
  if (u < 1e9) {
    const [prec, unit] = u < 1e3 ? [0, 'ns'] : u < 1e6 ? [3, 'µs'] : [6, 'ms'];
    const [frac, whole] = fraction(u, prec);
    out = `${whole}${frac}${unit}`;
  } else {
    const [frac, wholeSeconds] = fraction(u, 9);
    u = wholeSeconds;
    out = `${u % 60}${frac}s`;
    u = Math.floor(u / 60);
    if (u > 0) {
      out = `${u % 60}m${out}`;
      u = Math.floor(u / 60);
      if (u > 0) out = `${u}h${out}`;
    }
  }
  return negative ? `-${out}` : out;
}

/** `%+v` of Docker's HealthcheckConfig struct. */
export function goHealthcheck(h: HealthConfig): string {
  return (
    `{Test:${goList(h.Test)} Interval:${goDuration(h.Interval ?? 0)} Timeout:${goDuration(h.Timeout ?? 0)}` +
    ` StartPeriod:${goDuration(h.StartPeriod ?? 0)} StartInterval:${goDuration(h.StartInterval ?? 0)} Retries:${h.Retries ?? 0}}`
  );
}
