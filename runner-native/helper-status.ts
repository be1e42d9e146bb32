// Parses what the helper reports on fd 3 (see helper/main.c).
import { constants } from 'node:os';
import { SandboxError, SandboxExecNotFoundError, SandboxSetupError } from './errors.js';

export interface HelperStatus {
  /** host pid of the container's init */
  pid: number | null;
  /** mountpoints the helper had to create inside the rootfs (container paths) */
  createdPaths: string[];
  error: SandboxError | null;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
}

export function signalName(num: number): NodeJS.Signals | null {
  for (const [name, value] of Object.entries(constants.signals)) {
    if (value === num) return name as NodeJS.Signals;
  }
  return null;
}

function errorFor(code: string, message: string): SandboxError {
  if (code === 'exec_not_found') return new SandboxExecNotFoundError(message);
  return new SandboxSetupError(message);
}

export function parseHelperStatus(text: string): HelperStatus {
  const status: HelperStatus = { pid: null, createdPaths: [], error: null, exitCode: null, signal: null };
  for (const line of text.split('\n')) {
    if (!line) continue;
    const [kind, ...rest] = line.split('\t');
    switch (kind) {
      case 'pid': status.pid = Number(rest[0]); break;
      case 'created': status.createdPaths.push(rest[0]!); break;
      // keep the first error: later ones are consequences
      case 'error': status.error ??= errorFor(rest[0]!, rest.slice(1).join(' ')); break;
      case 'exit': status.exitCode = Number(rest[0]); break;
      case 'signal': status.signal = signalName(Number(rest[0])) ?? 'SIGKILL'; break;
      default: break;
    }
  }
  return status;
}
