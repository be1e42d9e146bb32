// docker's prune prompt: the warning, then "[y/N]" on the terminal; no
// answer (stdin closed, as in CI without -f) means no. Declining is no
// error: docker (20.10) exits 0 then, having removed nothing.
import { createInterface } from 'node:readline/promises';

export async function confirm(warning: string): Promise<boolean> {
  process.stderr.write(`${warning}\n`);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await Promise.race([
      rl.question('Are you sure you want to continue? [y/N] '),
      new Promise<string>((resolve) => rl.once('close', () => {
        process.stderr.write('\n');
        resolve('');
      })),
    ]);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
