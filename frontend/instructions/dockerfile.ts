/**
 * The entry point: Dockerfile text → directives, meta ARGs and build stages,
 * every instruction typed and validated.
 */
import { parseAst, type ParseOptions } from '../parser/parser.js';
import type { DockerfileAst } from '../parser/types.js';
import { InstructionContext } from './context.js';
import { convertInstruction } from './convert.js';
import type { ArgInstruction, Dockerfile, FromInstruction, Instruction, Stage } from './types.js';

// The last text parsed, and what it gave: a process that builds one
// Dockerfile twice (the CLI asks its build again to record the next
// no-op's answer, right after it) parses it once. A Dockerfile is readonly
// throughout, so the one result is shared.
let last: { text: string; file: string | undefined; dockerfile: Dockerfile } | undefined;

export function parseDockerfile(text: string, opts: ParseOptions = {}): Dockerfile {
  if (last !== undefined && last.text === text && last.file === opts.file) return last.dockerfile;
  const dockerfile = typeDockerfile(parseAst(text, opts));
  last = { text, file: opts.file, dockerfile };
  return dockerfile;
}

/** Types an already parsed AST (useful when the caller also wants the AST). */
export function typeDockerfile(ast: DockerfileAst): Dockerfile {
  const metaArgs: ArgInstruction[] = [];
  const stages: { from: FromInstruction; instructions: Instruction[] }[] = [];
  const stageNames = new Map<string, number>();
  for (const node of ast.instructions) {
    const instruction = convertInstruction(node, ast.file);
    if (instruction.kind === 'FROM') {
      if (instruction.stageName !== undefined) {
        const previous = stageNames.get(instruction.stageName);
        if (previous !== undefined) {
          new InstructionContext(node, ast.file).fail(
            'DUPLICATE_STAGE_NAME',
            `duplicate stage name ${JSON.stringify(instruction.stageName)} (first defined on line ${previous})`,
            node.args[2],
          );
        }
        stageNames.set(instruction.stageName, node.startLine);
      }
      stages.push({ from: instruction, instructions: [] });
      continue;
    }
    const current = stages[stages.length - 1];
    if (!current) {
      if (instruction.kind === 'ARG') {
        metaArgs.push(instruction);
        continue;
      }
      new InstructionContext(node, ast.file).fail(
        'NO_BUILD_STAGE',
        `no build stage in current context: ${node.keyword.toUpperCase()} must come after a FROM (only ARG may come before the first FROM)`,
      );
    }
    current.instructions.push(instruction);
  }
  if (stages.length === 0) {
    const last = ast.instructions[ast.instructions.length - 1]!;
    new InstructionContext(last, ast.file).fail('NO_BUILD_STAGE', 'dockerfile contains no stages to build (no FROM instruction)');
  }
  const typedStages: Stage[] = stages.map((s, index) => ({
    index,
    ...(s.from.stageName !== undefined ? { name: s.from.stageName } : {}),
    from: s.from,
    instructions: s.instructions,
  }));
  return {
    directives: ast.directives,
    metaArgs,
    stages: typedStages,
    warnings: ast.warnings,
    ...(ast.file !== undefined ? { file: ast.file } : {}),
  };
}
