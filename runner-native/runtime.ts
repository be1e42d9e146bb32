// What runs a SandboxSpec: the native C helper (sandbox.ts) or an
// installed OCI runtime, runc or crun (oci-runtime.ts). Both are peers
// behind this interface; openRuntime (runtimes.ts) picks one by name.
import type { EtcFilesOptions } from './etc-files.js';
import type { SandboxSpec } from './spec.js';
import type { InputSource, OutputTarget } from './stdio.js';

export type OciRuntimeName = 'runc' | 'crun';
export type SandboxRuntime = 'native' | OciRuntimeName;

export interface RunOptions {
  stdin?: InputSource;
  stdout?: OutputTarget;
  stderr?: OutputTarget;
  /** Abort kills the whole container; run() then rejects with SandboxAbortedError (name 'AbortError'). */
  signal?: AbortSignal;
  /** Kills the whole container after this long; run() then rejects with SandboxTimeoutError. */
  timeoutMs?: number;
  /** 'native' (default): the C helper; 'runc'/'crun': the same spec as an OCI bundle run by that installed runtime. */
  runtime?: SandboxRuntime;
  /** With process.terminal: "ROWS COLS" lines, each a new window size for the terminal (native runtime). */
  resize?: NodeJS.ReadableStream;
  /** Contents for /etc/hosts and /etc/resolv.conf, or false to mount none of the three /etc files. */
  etcFiles?: EtcFilesOptions | false;
  /**
   * Called once the command was started: from then on this process only
   * waits for it (and passes its output on), a moment for work of the
   * caller's own (native runtime).
   */
  onRunning?(): void;
}

export interface SandboxResult {
  /** exit status of the command (PID 1), or null if a signal killed it */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** the kernel's OOM killer killed a process of this run (not necessarily PID 1) */
  oomKilled: boolean;
  /** mountpoints created in the rootfs because the image lacked them (container paths, parents first) */
  createdPaths: string[];
}

export interface Runtime {
  readonly name: SandboxRuntime;
  /** Whether results list the mountpoints the run created (`createdPaths`); an OCI runtime does not say. */
  readonly reportsCreatedPaths: boolean;
  run(spec: SandboxSpec, opts?: RunOptions): Promise<SandboxResult>;
}
