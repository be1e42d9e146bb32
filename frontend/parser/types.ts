/**
 * The untyped Dockerfile AST: one node per instruction, with arguments split
 * the way BuildKit's parser splits them (per-instruction rules), but with no
 * validation of flags or argument counts and no variable expansion. The typed
 * layer (frontend/instructions) turns these nodes into validated instructions.
 */

/** A heredoc attached to RUN/COPY/ADD (`<<EOF`, `<<-EOF`, `<<'EOF'`, `3<<EOF`). */
export interface Heredoc {
  /** Terminator word after quote removal, e.g. `EOF` for `<<'EOF'`. */
  readonly name: string;
  /** File descriptor prefix (`3<<EOF`); 0 when absent. */
  readonly fileDescriptor: number;
  /** False when any part of the terminator word was quoted: no variable expansion of the content. */
  readonly expand: boolean;
  /** `<<-`: leading tabs are stripped from content lines (applied by the consumer, as BuildKit does). */
  readonly chomp: boolean;
  /** Raw body, every line with its original line ending, terminator line excluded. */
  readonly content: string;
}

/** One `key=value` (or legacy `key value`) pair of ENV/LABEL, value kept raw (quotes and escapes intact). */
export interface KeyValueArg {
  readonly key: string;
  readonly value: string;
  /** True for `key=value`, false for the legacy `KEY key value` form. */
  readonly hasEquals: boolean;
}

export interface InstructionNode {
  /** The instruction word as written (`run`, `RUN`, `Run`...). */
  readonly keyword: string;
  /** Lower-cased keyword, the dispatch key. */
  readonly name: string;
  /** Raw `--flag[=value]` words from the start of the arguments, quotes/escapes removed as BuildKit does. */
  readonly flags: string[];
  /**
   * Positional arguments. For JSON form the array elements; for HEALTHCHECK
   * the type word (`CMD`/`NONE`) first; empty for ENV/LABEL (see `pairs`) and
   * ONBUILD (see `child`).
   */
  readonly args: string[];
  /** ENV and LABEL only. */
  readonly pairs?: KeyValueArg[];
  /** ONBUILD only: the trigger instruction (shares this node's lines). */
  readonly child?: InstructionNode;
  /** True when the arguments were a valid JSON string array (exec form). */
  readonly json: boolean;
  readonly heredocs: Heredoc[];
  /** The logical line after joining continuations (comments and escapes removed). */
  readonly original: string;
  /** 1-based first and last physical line (last includes heredoc bodies). */
  readonly startLine: number;
  readonly endLine: number;
  /** The first physical line exactly as written (no line ending), for error messages. */
  readonly sourceLine: string;
  /** Comment lines directly above the instruction (without `#`). */
  readonly comments: string[];
}

export interface ParserDirectives {
  readonly syntax?: string;
  /** `\` (default) or a backtick. */
  readonly escape: '\\' | '`';
  readonly check?: string;
}

export interface ParserWarning {
  readonly message: string;
  readonly line: number;
}

export interface DockerfileAst {
  readonly directives: ParserDirectives;
  readonly instructions: InstructionNode[];
  readonly warnings: ParserWarning[];
  /** Source name used in error locations, when one was given. */
  readonly file?: string;
}
