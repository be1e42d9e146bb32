// JSON.stringify of a string, without its cost for the usual name with
// nothing to escape: thousands of file names are quoted for a layer index
// or a selection checksum, whose bytes must stay exactly JSON's.

// What JSON.stringify escapes in a string: '"', '\\', control characters
// and (well-formed JSON.stringify) lone surrogates; any surrogate here, to
// keep the test simple.
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** Exactly JSON.stringify(s). */
export function jsonQuote(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`;
}
