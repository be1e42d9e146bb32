// The detached half of `tsbuild run -d`: `node supervisor.js <containers dir> <id>`.
// Started in its own session by the CLI (so the terminal's signals and the
// CLI's exit do not reach it), with stdout/stderr going to the container's
// supervisor.log. It runs the container to its end exactly as a foreground
// run does, and records the outcome in state.json. If it is killed with -9,
// the sandbox helper's PDEATHSIG takes the container down with it and the
// next tsbuild command marks the container exited (see reap.ts).
import { ContainerStore } from './container-store.js';
import type { StartReport } from './control.js';
import { executeContainer } from './execute.js';

async function main(): Promise<number> {
  const [root, id] = process.argv.slice(2);
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
  const state = await executeContainer(containers, c, {
    stdin: 'ignore',
    signal: kill.signal,
    notice: (message) => process.stderr.write(`${new Date().toISOString()} ${message}\n`),
    onStarted: (started) => {
      // `tsbuild run -d` waits for this; afterwards nobody listens
      const report: StartReport = { state: started };
      if (process.connected) process.send?.(report, () => process.disconnect());
    },
  });
  if (state.error) process.stderr.write(`${new Date().toISOString()} ${state.error}\n`);
  return 0;
}

main().then(
  (code) => { process.exitCode = code; },
  (err) => { process.stderr.write(`${(err as Error).stack ?? String(err)}\n`); process.exitCode = 1; },
);
