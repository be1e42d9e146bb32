// Go's fmt verbs as BuildKit uses them in history `created_by` strings, so
// our history reads exactly like BuildKit's: `CMD ["sh" "-c" "x"]`,
// `VOLUME [/a /b]`, `EXPOSE map[80/tcp:{}]`, `HEALTHCHECK &{["CMD" "x"] "30s" ...}`.
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

/**
 * `%q` of a pointer to Docker's HealthcheckConfig, as BuildKit 0.13 (Docker
 * 26) writes HEALTHCHECK's history: `&{["CMD-SHELL" "x"] "30s" "0s" "0s" "0s" '\x03'}`
 * (durations through their String method, Retries as a quoted rune). The
 * Dockerfile frontend 1.x of 2026 switched to `%+v`; docker 26 users compare
 * against the former.
 */
export function goHealthcheck(h: HealthConfig): string {
  const durations = [h.Interval, h.Timeout, h.StartPeriod, h.StartInterval].map((d) => goQuote(goDuration(d ?? 0)));
  return `&{${goQuotedList(h.Test)} ${durations.join(' ')} ${goQuoteRune(h.Retries ?? 0)}}`;
}

/** `%v` of a map[nat.Port]struct{} (Go prints map keys sorted): `map[443/tcp:{} 80/tcp:{}]`. */
export function goPortSet(ports: readonly string[]): string {
  const sorted = [...new Set(ports)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return `map[${sorted.map((p) => `${p}:{}`).join(' ')}]`;
}

const RUNE_ESCAPES: Record<number, string> = { 7: '\\a', 8: '\\b', 9: '\\t', 10: '\\n', 11: '\\v', 12: '\\f', 13: '\\r', 39: "\\'", 92: '\\\\' };

/** strconv.QuoteRune, which `%q` applies to integers: `'\x00'`, `'A'`, `'\n'`. */
export function goQuoteRune(n: number): string {
  const hex = (v: number, width: number) => v.toString(16).padStart(width, '0');
  if (n < 0 || n > 0x10ffff || (n >= 0xd800 && n <= 0xdfff)) return "'\uFFFD'";
  if (RUNE_ESCAPES[n]) return `'${RUNE_ESCAPES[n]}'`;
  if (n < 0x20 || n === 0x7f) return `'\\x${hex(n, 2)}'`;
  if (n < 0x7f) return `'${String.fromCharCode(n)}'`;
  const ch = String.fromCodePoint(n);
  if (/[\p{L}\p{M}\p{N}\p{P}\p{S}]/u.test(ch) || n === 0x20) return `'${ch}'`;
  return n <= 0xffff ? `'\\u${hex(n, 4)}'` : `'\\U${hex(n, 8)}'`;
}
