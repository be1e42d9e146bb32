// Running the real `tsbuild` CLI in tests, against a throwaway store.
import test from 'ava';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBusyboxImage } from '../../fixtures/base-images/load-busybox.js';
import { busyboxAvailable } from '../../fixtures/base-images/busybox-rootfs.js';
import { removeTempDir, tempDir as fileTempDir } from './temp-dirs.js';

// dist/test/helpers → project root
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const TSBUILD_BIN = path.join(PROJECT_ROOT, 'bin/tsbuild.js');
export const FIXTURES = path.join(PROJECT_ROOT, 'fixtures');

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
}

export function tsbuild(args: string[], opts: CliOptions): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const [cmd, ...pre] = [...(opts.wrap ?? []), process.execPath];
    const child = spawn(cmd!, [...pre, TSBUILD_BIN, ...args], {
      cwd: opts.cwd ?? PROJECT_ROOT,
      env: { ...process.env, CI: 'true', NO_COLOR: '1', ...opts.env, TSBUILD_ROOT: opts.root },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
    child.stdin.end(opts.input ?? '');
  });
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
  const root = await fileTempDir('tsbuild-test-');
  await loadBusyboxImage('busybox:latest', root);
  return { root, dispose: () => removeTempDir(root) };
}

/** A temp dir removed when the test file is done. */
export function tempDir(prefix = 'tsbuild-ctx-'): Promise<string> {
  return fileTempDir(prefix);
}

export interface StoreSuite {
  skip: string | undefined;
  it: typeof test | typeof test.skip | typeof test.serial;
  // Set before the first test runs.
  store: { root: string; dispose(): Promise<void> };
}

/**
 * The set-up of an end-to-end test file: one fresh store for the file,
 * disposed of at its end, and one passing test that says why the file is
 * skipped where builds cannot run.
 */
export function storeSuite(title: string, opts: { serial?: boolean } = {}): StoreSuite {
  const skip = buildSkipReason();
  if (skip) test(`${title} (skipped)`, (t) => {
    t.log(`skipped: ${skip}`);
    t.pass();
  });
  const suite: StoreSuite = {
    skip,
    it: skip ? test.skip : opts.serial ? test.serial : test,
    store: undefined as unknown as StoreSuite['store'],
  };
  test.before(async () => {
    if (!skip) suite.store = await freshStore();
  });
  test.after.always(async () => suite.store?.dispose());
  return suite;
}
