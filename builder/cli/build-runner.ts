// The CLI side of a build: prints progress with the --progress writer,
// turns Ctrl-C/SIGTERM into the build's AbortSignal, serves secrets and SSH
// agents from this machine, writes --iidfile/--metadata-file and maps
// errors to exit codes (1 for a failed build, 2 for a bug in tsbuild).
import { createHash } from '../../runner-native/native-crypto.js';
import { writeFile } from 'node:fs/promises';
import { build, evaluate } from '../pipeline/build.js';
import { createProgress, type ProgressWriter } from '../progress/index.js';
import { localSecrets, localSsh } from '../providers/local.js';
import { BuildCanceledError, UsageError } from '../errors.js';
import { reportError } from './report-error.js';
import type { CliBuildRequest } from '../pipeline/options.js';
import { memoRecorder } from './local-memo-record.js';
import { capHeapGrowthWhenBig } from './heap-growth.js';
import { hashTextWith } from '../../cache/sha256-text.js';
import { endQuietlyWhenStdoutGoes } from './stdout-gone.js';

export async function runCli(req: CliBuildRequest): Promise<number> {
  if (req.call !== 'build') return evaluate(req.build, req.call, { stdout: process.stdout, stderr: process.stderr });
  // Loaded by the build anyway: the context snapshot's name and the memo's key are hashed by it, not in JavaScript.
  hashTextWith(createHash);
  const stopHeapWatch = capHeapGrowthWhenBig();
  let progress: ProgressWriter | undefined;
  const abort = new AbortController();
  const onSignal = () => abort.abort(new BuildCanceledError('build canceled (interrupted)'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const ssh = localSsh(req.ssh, process.env.SSH_AUTH_SOCK);
  // Before the build starts: what it shows, and the time its store and context must be older than.
  const memo = memoRecorder(req, process.env);
  try {
    const result = await build(req.build, {
      onStart: () => { progress = createProgress(req.progress, process.stderr); },
      onEvent: (e) => {
        if (!progress) return;
        progress.onProgress?.(e);
        memo?.onEvent(e);
      },
      ...(memo ? { onContextWalk: (entries, whole) => memo.onContextWalk(entries, whole), contextWalk: 'keep' as const, onIdle: () => memo.onIdle() } : {}),
      signal: abort.signal,
      secrets: localSecrets(req.secrets, process.env),
      ssh,
      openOutput: async (dest, kind) => {
        if (dest !== '-') return undefined;
        // As buildx: a tarball never goes to a terminal.
        if (process.stdout.isTTY) throw new UsageError(`refusing to write the ${kind} output to a terminal: give dest=FILE or redirect stdout`);
        endQuietlyWhenStdoutGoes();
        return process.stdout;
      },
    });
    if (req.iidFile) await writeFile(req.iidFile, result.imageId);
    if (req.metadataFile) await writeFile(req.metadataFile, JSON.stringify(result.metadata, null, 2) + '\n');
    await progress?.close({ ok: true });
    if (req.progress === 'quiet') process.stdout.write(result.imageId + '\n');
    // Shown first: the answer is recorded (or not) after the user has it.
    await memo?.record(result, (io) => build(req.build, { ...io, signal: abort.signal })).catch(() => undefined);
    return 0;
  } catch (err) {
    // Errors before the build started (bad flags, a Dockerfile that does
    // not parse) were never shown as progress; either way a located error
    // shows the Dockerfile around it.
    await progress?.close({ ok: false });
    return reportError(err, { file: req.build.dockerfileName, text: req.build.dockerfileText });
  } finally {
    stopHeapWatch();
    await ssh.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
