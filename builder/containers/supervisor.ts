// The detached half of `tsbuild run -d`: `node supervisor.js <containers dir> <id>`.
// Started in its own session by the CLI (so the terminal's signals and the
// CLI's exit do not reach it), with stdout/stderr going to the container's
// supervisor.log. It runs the container to its end exactly as a foreground
// run does, and records the outcome in state.json. If it is killed with -9,
// the sandbox helper's PDEATHSIG takes the container down with it and the
// next tsbuild command marks the container exited (see reap.ts).
import { attachSocketPath, Frame } from './attach-protocol.js';
import { AttachServer } from './attach-server.js';
import { ContainerStore } from './container-store.js';
import type { StartReport } from './control.js';
import { executeContainer } from './execute.js';
import { restartDelayMs, shouldRestart } from './restart-policy.js';
import { setTimeout as sleep } from 'node:timers/promises';

async function main(): Promise<number> {
  const [root, id, mode] = process.argv.slice(2);
  if (!root || !id) {
    process.stderr.write('usage: supervisor.js <containers dir> <container id>\n');
    return 2;
  }
  const containers = new ContainerStore(root);
  const c = await containers.load(id);
  if (!c) {
    process.stderr.write(`no container ${id} in ${root}\n`);
    return 1;
  }
  const kill = new AbortController();
  // `kill <supervisor>` stops the container and still records its end
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => kill.abort());
  process.on('SIGHUP', () => undefined);
  // the CLI that started us may exit at any time: that must not end us
  process.on('disconnect', () => undefined);
  // `attach`, `run -it` and `start -a` talk to the container through this socket
  const attach = await AttachServer.listen(attachSocketPath(id));
  if (mode === '--wait-attach') {
    // `run -it`: the container starts once its client is attached, so no output is missed
    if (process.connected) process.send?.({ listening: true }, () => process.disconnect());
    await attach.waitForClient();
  }
  const runOnce = () => executeContainer(containers, c, {
    stdin: c.config.interactive ? attach.stdin : 'ignore',
    resize: c.config.tty ? attach.resize : undefined,
    onStdout: (chunk) => attach.output(Frame.Stdout, chunk),
    onStderr: (chunk) => attach.output(Frame.Stderr, chunk),
    signal: kill.signal,
    willRestart: async (exitCode) => {
      const now = (await containers.load(id))?.state;
      return now !== undefined && !kill.signal.aborted && shouldRestart(c.config.restartPolicy, exitCode, now.restartCount ?? 0, now.stopRequested === true);
    },
    notice: (message) => process.stderr.write(`${new Date().toISOString()} ${message}\n`),
    onStarted: (started) => {
      // `tsbuild run -d` waits for this; afterwards nobody listens
      const report: StartReport = { state: started };
      if (process.connected) process.send?.(report, () => process.disconnect());
    },
  });
  await containers.updateState(id, { stopRequested: false });
  let state = await runOnce();
  // --restart: run again while the policy says so (and nobody stopped it)
  while (state.restarting) {
    const count = (await containers.load(id))?.state.restartCount ?? 0;
    await sleep(restartDelayMs(count));
    if (kill.signal.aborted || (await containers.load(id))?.state.stopRequested) {
      await containers.updateState(id, { restarting: false });
      break;
    }
    await containers.updateState(id, { restartCount: count + 1 });
    state = await runOnce();
  }
  if (state.error) process.stderr.write(`${new Date().toISOString()} ${state.error}\n`);
  await attach.close({ exitCode: state.exitCode ?? 125, ...(state.error ? { error: state.error } : {}) });
  return 0;
}

main().then(
  (code) => { process.exitCode = code; },
  (err) => { process.stderr.write(`${(err as Error).stack ?? String(err)}\n`); process.exitCode = 1; },
);
