// The host's ssh-add with the shared libraries it loads, as context files
// under tools/, to run inside busybox through the copied dynamic loader:
// a RUN step can then list and use the keys of a forwarded agent.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

/** Why the bundle cannot be made here (openssh-client missing), or undefined. */
export function sshAddSkipReason(): string | undefined {
  const missing = ['/usr/bin/ssh-add', '/usr/bin/ssh-keygen'].find((f) => !existsSync(f));
  return missing ? `${missing} is missing; apt-get install openssh-client` : undefined;
}

export async function sshAddBundle(): Promise<{ files: Record<string, Buffer>; run: string }> {
  const files: Record<string, Buffer> = { 'tools/ssh-add': await readFile('/usr/bin/ssh-add') };
  for (const line of execFileSync('ldd', ['/usr/bin/ssh-add'], { encoding: 'utf8' }).split('\n')) {
    const lib = /(\/\S+) \(0x/.exec(line)?.[1];
    if (lib) files[`tools/${path.basename(lib)}`] = await readFile(lib);
  }
  const loader = Object.keys(files).find((f) => /ld-linux/.test(f))!;
  /** The command line that runs ssh-add with the bundle mounted at /t. */
  const run = `/${loader} --library-path /t /t/ssh-add`.replace('/tools/', '/t/');
  return { files, run };
}
