// Connects the caller's stdin/stdout/stderr choices to the helper's stdio.
import type { ChildProcess, StdioOptions } from 'node:child_process';
import type { Readable } from 'node:stream';

/** Where output goes: a stream (never ended by us), a callback per chunk, the parent's fd, or nowhere. */
export type OutputTarget = NodeJS.WritableStream | ((chunk: Buffer) => void) | 'inherit' | 'ignore';
export type InputSource = 'ignore' | 'inherit' | string | Buffer | NodeJS.ReadableStream;

function outputMode(target: OutputTarget): 'inherit' | 'ignore' | 'pipe' {
  return target === 'inherit' || target === 'ignore' ? target : 'pipe';
}

/** stdio for spawn(): fd 0-2 as asked, fd 3 the helper's status pipe, fd 4 terminal sizes (with a pty). */
export function stdioFor(stdin: InputSource, stdout: OutputTarget, stderr: OutputTarget, resize = false): StdioOptions {
  const inMode = stdin === 'ignore' || stdin === 'inherit' ? stdin : 'pipe';
  return [inMode, outputMode(stdout), outputMode(stderr), 'pipe', ...(resize ? ['pipe' as const] : [])];
}

/** Window sizes ("ROWS COLS" lines) go to the helper's fd 4, which applies them to the pty. */
export function connectResize(child: ChildProcess, sizes: NodeJS.ReadableStream | undefined): void {
  const pipe = child.stdio[4] as NodeJS.WritableStream | null | undefined;
  if (!sizes || !pipe) return;
  (pipe as unknown as { on(e: string, f: () => void): void }).on('error', () => undefined);
  sizes.pipe(pipe);
}

function connectOutput(stream: Readable | null, target: OutputTarget): void {
  if (!stream) return;
  if (typeof target === 'function') stream.on('data', (chunk: Buffer) => target(chunk));
  else if (typeof target === 'object') stream.pipe(target, { end: false });
}

export function connectStdio(child: ChildProcess, stdin: InputSource, stdout: OutputTarget, stderr: OutputTarget): void {
  if (child.stdin) {
    // the command may exit without reading its input: EPIPE is not our error
    child.stdin.on('error', () => undefined);
    if (typeof stdin === 'string' || Buffer.isBuffer(stdin)) child.stdin.end(stdin);
    else if (typeof stdin === 'object') stdin.pipe(child.stdin);
  }
  connectOutput(child.stdout, stdout);
  connectOutput(child.stderr, stderr);
}
