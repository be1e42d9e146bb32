// Running the real `tsbuild` CLI in tests, against a throwaway store.
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import os from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadBusyboxImage } from '../../fixtures/base-images/load-busybox.js';
import { busyboxAvailable } from '../../fixtures/base-images/busybox-rootfs.js';
import { removeTempDir, tempDir } from './temp-dirs.js';
import { FIXTURES, PROJECT_ROOT, TSBUILD_BIN } from './paths.js';

export { FIXTURES, PROJECT_ROOT, TSBUILD_BIN };

// What a remote client remembers of the contexts it built ($XDG_CACHE_HOME)
// stays in this test process's own directory, not the user's ~/.cache.
export const CLIENT_CACHE = mkdtempSync(path.join(os.tmpdir(), 'tsbuild-test-client-cache-'));
process.on('exit', () => rmSync(CLIENT_CACHE, { recursive: true, force: true }));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  root: string;
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** A command the CLI runs under, e.g. ['strace', '-f', ...]. */
  wrap?: string[];
  /** Kill the CLI (SIGKILL) after this long; default: never (ava's timeout applies). */
  timeoutMs?: number;
  /** The child, for tests that signal it. */
  onSpawn?: (child: ChildProcess) => void;
  /** Another launcher than this package's bin/tsbuild.js (a copy of the package, say). */
  bin?: string;
}

export function tsbuild(args: string[], opts: CliOptions): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const [cmd, ...pre] = [...(opts.wrap ?? []), process.execPath];
    const child = spawn(cmd!, [...pre, opts.bin ?? TSBUILD_BIN, ...args], {
      cwd: opts.cwd ?? PROJECT_ROOT,
      env: launcherEnv({ ...process.env, CI: 'true', NO_COLOR: '1', XDG_CACHE_HOME: CLIENT_CACHE, ...opts.env, TSBUILD_ROOT: opts.root }),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
    // A command that exits without reading its stdin (most do) makes this write
    // fail with EPIPE; that is no error of the command's.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
    opts.onSpawn?.(child);
  });
}

// What bin/tsbuild does before starting Node (the tests start bin/tsbuild.js
// directly, to wrap it in strace and the like): Node 20 would parse the CA
// file at every start, ~35 ms on a machine that names the system bundle.
function launcherEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (!env.NODE_EXTRA_CA_CERTS) return env;
  const { NODE_EXTRA_CA_CERTS: file, ...rest } = env;
  return { ...rest, TSBUILD_EXTRA_CA_CERTS: file };
}

// Why a test that builds images cannot run here, or undefined when it can.
export function buildSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (overlay mounts, namespaces)';
  if (!busyboxAvailable()) return 'needs /bin/busybox (Debian package busybox-static)';
  return undefined;
}

// A fresh store with the busybox fixture image loaded as busybox:latest.
// Callers dispose of it when done with it (a store is big); one they could
// not dispose of still goes when the test file is done.
export async function freshStore(): Promise<{ root: string; dispose(): Promise<void> }> {
  const root = await tempDir('tsbuild-test-');
  await loadBusyboxImage('busybox:latest', root);
  return { root, dispose: () => removeTempDir(root) };
}

// The one temp-dir helper, here too for the files that import their helpers from this module.
export { tempDir };

export interface StoreSuite {
  skip: string | undefined;
  it: typeof test | typeof test.skip | typeof test.serial;
  // Set before the first test runs.
  store: { root: string; dispose(): Promise<void> };
  /** The store, for a file's own before hook (ava may run hooks concurrently: await this, do not read `store`). */
  ready(): Promise<{ root: string; dispose(): Promise<void> }>;
}

/**
 * The set-up of an end-to-end test file: one fresh store for the file,
 * disposed of at its end; where builds cannot run, every test is skipped
 * and one skipped line says why (nothing counts as passed).
 */
export function storeSuite(title: string, opts: { serial?: boolean } = {}): StoreSuite {
  const skip = buildSkipReason();
  if (skip) test.skip(`${title}: ${skip}`, () => {});
  const suite: StoreSuite = {
    skip,
    it: skip ? test.skip : opts.serial ? test.serial : test,
    store: undefined as unknown as StoreSuite['store'],
    ready: () => (opened ??= freshStore().then((s) => (suite.store = s))),
  };
  let opened: Promise<StoreSuite['store']> | undefined;
  test.before(async () => {
    if (!skip) await suite.ready();
  });
  test.after.always(async () => suite.store?.dispose());
  return suite;
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Runs the CLI under a pseudo-terminal (util-linux `script`), as a user at
 * a terminal would: each input chunk is typed after the previous one and a
 * pause, so a shell sees lines as they come. Resolves with what the
 * terminal showed and the CLI's exit code.
 */
export function tsbuildUnderPty(storeRoot: string, args: string[], input: string[], pauseMs = 700, prelude = ''): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    // `prelude` runs in the terminal's shell first (e.g. `stty rows 40 cols 100;`)
    const command = `${prelude} exec ${[process.execPath, TSBUILD_BIN, ...args].map(shellQuote).join(' ')}`;
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      env: { ...process.env, TSBUILD_ROOT: storeRoot },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s; });
    child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
    child.stdin.on('error', () => undefined);
    void (async () => {
      for (const chunk of input) {
        await new Promise((r) => setTimeout(r, pauseMs));
        if (child.exitCode !== null) return;
        child.stdin.write(chunk);
      }
      // script ends when the command does; closing its input early would end the session
      await new Promise((r) => setTimeout(r, 30_000));
      child.stdin.end();
    })();
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); child.stdin.destroy(); resolve({ code: code ?? -1, stdout, stderr }); });
  });
}
