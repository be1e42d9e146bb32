// The part of Go's text/template that `docker ... --format` users rely on:
// fields (`.A.B`, `.`, `$`), variables (`$v`, `range $k, $v := ...`),
// pipes (`.X | json`), parentheses, string and number literals, `if` /
// `else if` / `else`, `range` (with `else`), `with`, `{{-`/`-}}` trimming, and
// docker's functions (json, index, join, split, lower, upper, title, len,
// printf, print, println, eq, ne, lt, gt, not, and, or, truncate, pad).
// Values print as Go prints them (`[a b]`, `map[k:v]`, `<no value>`).
// Anything else is an error, never echoed back.
export class TemplateError extends Error {
  readonly userError = true;
  readonly code = 'TEMPLATE';
}

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'expr'; pipe: Pipe }
  | { kind: 'if'; branches: { cond: Pipe; body: Node[] }[]; otherwise: Node[] }
  | { kind: 'range'; pipe: Pipe; keyVar?: string; valueVar?: string; body: Node[]; otherwise: Node[] }
  | { kind: 'with'; pipe: Pipe; body: Node[]; otherwise: Node[] };

type Term =
  | { t: 'field'; base: 'dot' | 'root' | { v: string }; path: string[] }
  | { t: 'lit'; value: unknown }
  | { t: 'call'; name: string; args: Term[] }
  | { t: 'paren'; pipe: Pipe; path: string[] };
type Pipe = Term[]; // each later stage is a call whose last argument is the previous result

const NO_VALUE = Symbol('no value');

// ---------- lexing actions ----------

function tokenize(src: string): string[] {
  const tokens: string[] = [];
  let i = 0;
  while (i < src.length) {
    const ch = src[i]!;
    if (/\s/.test(ch)) { i++; continue; }
    if (ch === '"' || ch === '`') {
      let j = i + 1;
      while (j < src.length && src[j] !== ch) j += src[j] === '\\' && ch === '"' ? 2 : 1;
      if (j >= src.length) throw new TemplateError(`template: unterminated quoted string in "${src}"`);
      tokens.push(src.slice(i, j + 1));
      i = j + 1;
      continue;
    }
    if (src.startsWith(':=', i)) { tokens.push(':='); i += 2; continue; }
    if ('()|,'.includes(ch)) { tokens.push(ch); i++; continue; }
    const m = /^[^\s()|,"`]+/.exec(src.slice(i))!;
    tokens.push(m[0]);
    i += m[0].length;
  }
  return tokens;
}

class PipeParser {
  private i = 0;
  constructor(private readonly tokens: string[], private readonly source: string) {}

  done(): boolean { return this.i >= this.tokens.length; }
  peek(): string | undefined { return this.tokens[this.i]; }
  next(): string | undefined { return this.tokens[this.i++]; }

  pipe(stop: string[] = []): Pipe {
    const stages: Term[] = [this.command(stop)];
    while (this.peek() === '|') {
      this.next();
      const stage = this.command(stop);
      if (stage.t !== 'call') throw new TemplateError(`template: can't pipe into a non-function in "${this.source}"`);
      stages.push(stage);
    }
    return stages;
  }

  private command(stop: string[]): Term {
    const first = this.next();
    if (first === undefined) throw new TemplateError(`template: missing value in "${this.source}"`);
    const head = this.term(first);
    if (head.t === 'call') {
      while (!this.done() && !['|', ')', ...stop].includes(this.peek()!)) head.args.push(this.term(this.next()!));
      if (!FUNCTIONS[head.name]) throw new TemplateError(`template: function "${head.name}" not defined`);
    } else if (!this.done() && !['|', ')', ...stop].includes(this.peek()!)) {
      throw new TemplateError(`template: unexpected "${this.peek()}" in "${this.source}"`);
    }
    return head;
  }

  private term(tok: string): Term {
    if (tok === '(') {
      const pipe = this.pipe();
      if (this.next() !== ')') throw new TemplateError(`template: unclosed left paren in "${this.source}"`);
      // `(index .X 0).Field`
      const chained = this.peek()?.startsWith('.') && this.peek() !== '.' ? this.next()!.slice(1).split('.') : [];
      return { t: 'paren', pipe, path: chained };
    }
    if (tok.startsWith('"')) return { t: 'lit', value: JSON.parse(tok) as string };
    if (tok.startsWith('`')) return { t: 'lit', value: tok.slice(1, -1) };
    if (/^-?\d+(\.\d+)?$/.test(tok)) return { t: 'lit', value: Number(tok) };
    if (tok === 'true' || tok === 'false') return { t: 'lit', value: tok === 'true' };
    if (tok === 'nil') return { t: 'lit', value: null };
    if (tok === '.') return { t: 'field', base: 'dot', path: [] };
    if (tok.startsWith('.')) return { t: 'field', base: 'dot', path: tok.slice(1).split('.') };
    if (tok.startsWith('$')) {
      const [name, ...path] = tok.split('.');
      return { t: 'field', base: name === '$' ? 'root' : { v: name! }, path };
    }
    if (/^[A-Za-z_]\w*$/.test(tok)) return { t: 'call', name: tok, args: [] };
    throw new TemplateError(`template: bad token "${tok}"`);
  }
}

// ---------- parsing the template ----------

interface Action { text?: string; action?: string }

function split(template: string): Action[] {
  const parts: Action[] = [];
  let i = 0;
  while (i < template.length) {
    const open = template.indexOf('{{', i);
    if (open < 0) { parts.push({ text: template.slice(i) }); break; }
    let text = template.slice(i, open);
    const close = template.indexOf('}}', open + 2);
    if (close < 0) throw new TemplateError('template: unclosed action');
    let inner = template.slice(open + 2, close);
    if (inner.startsWith('-') && /^-\s/.test(inner)) { text = text.replace(/\s+$/, ''); inner = inner.slice(1); }
    let end = close + 2;
    if (/\s-$/.test(inner)) {
      inner = inner.slice(0, -1);
      const rest = /^\s*/.exec(template.slice(end))![0];
      end += rest.length;
    }
    if (text) parts.push({ text });
    parts.push({ action: inner.trim() });
    i = end;
  }
  return parts;
}

class TemplateParser {
  private i = 0;
  constructor(private readonly parts: Action[]) {}

  parse(): Node[] {
    const nodes = this.list(['end', 'else']);
    if (this.i < this.parts.length) throw new TemplateError(`template: unexpected {{${this.parts[this.i]!.action}}}`);
    return nodes;
  }

  private list(stops: string[]): Node[] {
    const nodes: Node[] = [];
    while (this.i < this.parts.length) {
      const part = this.parts[this.i]!;
      if (part.text !== undefined) { nodes.push({ kind: 'text', text: part.text }); this.i++; continue; }
      const action = part.action!;
      const word = action.split(/\s+/)[0]!;
      if (stops.includes(word)) return nodes;
      this.i++;
      if (action.startsWith('/*')) continue;
      if (word === 'if') nodes.push(this.ifNode(action.slice(2)));
      else if (word === 'range') nodes.push(this.rangeNode(action.slice(5)));
      else if (word === 'with') nodes.push(this.withNode(action.slice(4)));
      else if (['end', 'else', 'define', 'template', 'block'].includes(word)) throw new TemplateError(`template: unexpected {{${action}}}`);
      else nodes.push({ kind: 'expr', pipe: pipeOf(action) });
    }
    return nodes;
  }

  private expect(word: string): string {
    const part = this.parts[this.i];
    if (!part?.action || part.action.split(/\s+/)[0] !== word) throw new TemplateError(`template: missing {{${word}}}`);
    this.i++;
    return part.action;
  }

  private elseOrEnd(): { otherwise: Node[]; elseIf?: string } {
    const part = this.parts[this.i];
    if (part?.action?.startsWith('else')) {
      this.i++;
      const rest = part.action.slice(4).trim();
      if (rest.startsWith('if ')) return { otherwise: [], elseIf: rest.slice(3) };
      const otherwise = this.list(['end']);
      this.expect('end');
      return { otherwise };
    }
    this.expect('end');
    return { otherwise: [] };
  }

  private ifNode(condText: string): Node {
    const branches: { cond: Pipe; body: Node[] }[] = [];
    let cond = condText;
    for (;;) {
      branches.push({ cond: pipeOf(cond), body: this.list(['end', 'else']) });
      const { otherwise, elseIf } = this.elseOrEnd();
      if (elseIf === undefined) return { kind: 'if', branches, otherwise };
      cond = elseIf;
    }
  }

  private rangeNode(text: string): Node {
    const m = /^\s*(\$\w*)\s*(?:,\s*(\$\w*)\s*)?:=(.*)$/.exec(text);
    const pipe = pipeOf(m ? m[3]! : text);
    const body = this.list(['end', 'else']);
    const { otherwise } = this.elseOrEnd();
    if (!m) return { kind: 'range', pipe, body, otherwise };
    return m[2] ? { kind: 'range', pipe, keyVar: m[1], valueVar: m[2], body, otherwise } : { kind: 'range', pipe, valueVar: m[1], body, otherwise };
  }

  private withNode(text: string): Node {
    const pipe = pipeOf(text);
    const body = this.list(['end', 'else']);
    const { otherwise } = this.elseOrEnd();
    return { kind: 'with', pipe, body, otherwise };
  }
}

function pipeOf(text: string): Pipe {
  const p = new PipeParser(tokenize(text), text);
  if (p.done()) throw new TemplateError('template: missing value for command');
  const pipe = p.pipe();
  if (!p.done()) throw new TemplateError(`template: unexpected "${p.peek()}" in "${text}"`);
  return pipe;
}

// ---------- values as Go prints them ----------

export function goString(v: unknown): string {
  if (v === NO_VALUE || v === undefined) return '<no value>';
  if (v === null) return '<nil>';
  if (Array.isArray(v)) return `[${v.map(goString).join(' ')}]`;
  if (typeof v === 'object') {
    return `map[${Object.keys(v).sort().map((k) => `${k}:${goString((v as Record<string, unknown>)[k])}`).join(' ')}]`;
  }
  return String(v);
}

function truthy(v: unknown): boolean {
  if (v === NO_VALUE || v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

function length(v: unknown): number {
  if (typeof v === 'string' || Array.isArray(v)) return v.length;
  if (v && typeof v === 'object') return Object.keys(v).length;
  throw new TemplateError(`template: len of ${goString(v)}`);
}

function printf(format: string, ...args: unknown[]): string {
  let n = 0;
  return format.replace(/%([-+ 0#]*\d*(?:\.\d+)?)([svdqft%])/g, (_m, flags: string, verb: string) => {
    if (verb === '%') return '%';
    const a = args[n++];
    let s = verb === 'q' ? JSON.stringify(String(a)) : verb === 'f' ? Number(a).toFixed(/\.(\d+)/.exec(flags)?.[1] ? Number(/\.(\d+)/.exec(flags)![1]) : 6) : goString(a);
    const width = Number(/\d+/.exec(flags.replace(/\.\d+/, ''))?.[0] ?? 0);
    if (width) s = flags.startsWith('-') ? s.padEnd(width) : s.padStart(width);
    return s;
  });
}

const FUNCTIONS: Record<string, (...args: unknown[]) => unknown> = {
  json: (v) => JSON.stringify(v === NO_VALUE ? null : v),
  index: (v, ...keys) => {
    let cur = v;
    for (const k of keys) {
      if (cur === null || cur === undefined || cur === NO_VALUE) throw new TemplateError(`template: index of untyped nil`);
      cur = (cur as Record<string, unknown>)[String(k)];
      if (cur === undefined) cur = NO_VALUE;
    }
    return cur;
  },
  join: (list, sep) => (Array.isArray(list) ? list.map(goString).join(String(sep)) : goString(list)),
  split: (s, sep) => String(s).split(String(sep)),
  lower: (s) => String(s).toLowerCase(),
  upper: (s) => String(s).toUpperCase(),
  title: (s) => String(s).replace(/\b\w/g, (c) => c.toUpperCase()),
  len: (v) => length(v),
  printf: (f, ...a) => printf(String(f), ...a),
  print: (...a) => a.map(goString).join(''),
  println: (...a) => `${a.map(goString).join(' ')}\n`,
  eq: (a, ...b) => b.some((x) => x === a),
  ne: (a, b) => a !== b,
  lt: (a, b) => (a as number) < (b as number),
  gt: (a, b) => (a as number) > (b as number),
  le: (a, b) => (a as number) <= (b as number),
  ge: (a, b) => (a as number) >= (b as number),
  not: (a) => !truthy(a),
  and: (...a) => a.find((x) => !truthy(x)) ?? a[a.length - 1],
  or: (...a) => a.find((x) => truthy(x)) ?? a[a.length - 1],
  truncate: (s, n) => String(s).slice(0, Number(n)),
  pad: (s, before, after) => `${' '.repeat(Number(before))}${String(s)}${' '.repeat(Number(after))}`,
};

// ---------- execution ----------

interface Scope { dot: unknown; root: unknown; vars: Map<string, unknown> }

function fieldOf(base: unknown, path: string[]): unknown {
  let cur = base;
  for (const key of path) {
    if (cur === NO_VALUE || cur === null || cur === undefined) return NO_VALUE;
    if (typeof cur !== 'object') throw new TemplateError(`template: can't evaluate field ${key} in type ${typeof cur}`);
    const next = (cur as Record<string, unknown>)[key];
    cur = next === undefined ? NO_VALUE : next;
  }
  return cur;
}

function evalTerm(term: Term, s: Scope, piped?: unknown[]): unknown {
  switch (term.t) {
    case 'lit': return term.value;
    case 'paren': return fieldOf(evalPipe(term.pipe, s), term.path);
    case 'field': {
      const base = term.base === 'dot' ? s.dot : term.base === 'root' ? s.root : s.vars.has(term.base.v) ? s.vars.get(term.base.v) : undefined;
      if (typeof term.base === 'object' && !s.vars.has(term.base.v)) throw new TemplateError(`template: undefined variable "${term.base.v}"`);
      return fieldOf(base, term.path);
    }
    case 'call': {
      const args = [...term.args.map((a) => evalTerm(a, s)), ...(piped ?? [])];
      return FUNCTIONS[term.name]!(...args);
    }
  }
}

function evalPipe(pipe: Pipe, s: Scope): unknown {
  let value = evalTerm(pipe[0]!, s);
  for (const stage of pipe.slice(1)) value = evalTerm(stage, s, [value]);
  return value;
}

function run(nodes: Node[], s: Scope, out: string[]): void {
  for (const n of nodes) {
    if (n.kind === 'text') out.push(n.text);
    else if (n.kind === 'expr') out.push(goString(evalPipe(n.pipe, s)));
    else if (n.kind === 'if') {
      const branch = n.branches.find((b) => truthy(evalPipe(b.cond, s)));
      run(branch ? branch.body : n.otherwise, s, out);
    } else if (n.kind === 'with') {
      const v = evalPipe(n.pipe, s);
      if (truthy(v)) run(n.body, { ...s, dot: v }, out);
      else run(n.otherwise, s, out);
    } else {
      const v = evalPipe(n.pipe, s);
      const entries: [unknown, unknown][] = Array.isArray(v) ? v.map((x, i) => [i, x])
        : v && typeof v === 'object' ? Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]])
          : v === null || v === NO_VALUE || v === undefined ? [] : (() => { throw new TemplateError(`template: range can't iterate over ${goString(v)}`); })();
      if (entries.length === 0) { run(n.otherwise, s, out); continue; }
      for (const [k, x] of entries) {
        const vars = new Map(s.vars);
        if (n.keyVar) vars.set(n.keyVar, k);
        if (n.valueVar) vars.set(n.valueVar, x);
        run(n.body, { ...s, dot: x, vars }, out);
      }
    }
  }
}

export interface CompiledTemplate {
  execute(data: unknown): string;
}

export function compileTemplate(template: string): CompiledTemplate {
  const nodes = new TemplateParser(split(template)).parse();
  return {
    execute(data: unknown): string {
      const out: string[] = [];
      run(nodes, { dot: data, root: data, vars: new Map([['$', data]]) }, out);
      return out.join('');
    },
  };
}
