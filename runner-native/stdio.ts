// Connects the caller's stdin/stdout/stderr choices to the helper's stdio.
import type { ChildProcess, StdioOptions } from 'node:child_process';
import type { Readable } from 'node:stream';

/** Where output goes: a stream (never ended by us), a callback per chunk, the parent's fd, or nowhere. */
export type OutputTarget = NodeJS.WritableStream | ((chunk: Buffer) => void) | 'inherit' | 'ignore';
export type InputSource = 'ignore' | 'inherit' | string | Buffer | NodeJS.ReadableStream;

function outputMode(target: OutputTarget): 'inherit' | 'ignore' | 'pipe' {
  return target === 'inherit' || target === 'ignore' ? target : 'pipe';
}

/** stdio for spawn(): fd 0-2 as asked, fd 3 the helper's status pipe. */
export function stdioFor(stdin: InputSource, stdout: OutputTarget, stderr: OutputTarget): StdioOptions {
  const inMode = stdin === 'ignore' || stdin === 'inherit' ? stdin : 'pipe';
  return [inMode, outputMode(stdout), outputMode(stderr), 'pipe'];
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
