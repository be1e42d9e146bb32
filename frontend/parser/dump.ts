/**
 * BuildKit's test dump of a parsed Dockerfile (parser.Node.Dump): one
 * s-expression per instruction, `(keyword ["--flag" ...] "arg" ...)`, with
 * Go `%q` quoting. Only a testing view, used against the conformance cases.
 */
import { KNOWN_INSTRUCTIONS } from './arguments.js';
import type { DockerfileAst, InstructionNode } from './types.js';

// Go's unicode.IsPrint. Made on the first character past ASCII: a
// Unicode property class costs ~0.5 ms to build and as much again to run
// its first times, and the quoted words (CMD, ENTRYPOINT and HEALTHCHECK
// arguments in the image history, every build) are ASCII in practice.
let printable: RegExp | undefined;
export function isGoPrintable(ch: string, cp: number): boolean {
  if (cp < 0x80) return cp >= 0x20 && cp < 0x7f;
  printable ??= /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;
  return printable.test(ch);
}
const SHORT_ESCAPES: Record<string, string> = {
  '\x07': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
  '\\': '\\\\',
  '"': '\\"',
};

/** Go's strconv.Quote. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const short = SHORT_ESCAPES[ch];
    if (short) {
      out += short;
      continue;
    }
    const cp = ch.codePointAt(0)!;
    if (isGoPrintable(ch, cp)) {
      out += ch;
      continue;
    }
    if (cp < 0x80) out += '\\x' + cp.toString(16).padStart(2, '0');
    else if (cp >= 0xd800 && cp <= 0xdfff) out += '\\ufffd'; // a lone surrogate is invalid UTF-8 to Go
    else if (cp < 0x10000) out += '\\u' + cp.toString(16).padStart(4, '0');
    else out += '\\U' + cp.toString(16).padStart(8, '0');
  }
  return out + '"';
}

function dumpNode(node: InstructionNode): string {
  let out = node.keyword.toLowerCase();
  if (node.flags.length > 0) out += ' [' + node.flags.map(goQuote).join(' ') + ']';
  if (node.child) return `${out} (${dumpNode(node.child)})`;
  let words: string[];
  if (node.pairs) {
    words = node.pairs.flatMap((p) => [p.key, p.value, p.hasEquals ? '=' : '']);
  } else if (!KNOWN_INSTRUCTIONS.includes(node.name)) {
    words = ['']; // BuildKit keeps one empty argument for instructions it ignores
  } else {
    words = node.args;
  }
  for (const word of words) out += ' ' + goQuote(word);
  return out;
}

/** The dump of every instruction, one per line, with a trailing newline (the conformance `result` format). */
export function dumpBuildkit(ast: DockerfileAst): string {
  return ast.instructions.map((n) => `(${dumpNode(n)})\n`).join('');
}
