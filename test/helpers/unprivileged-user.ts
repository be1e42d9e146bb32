// A real unprivileged user for rootless tests: created by the test with a
// subordinate uid/gid range it chooses, removed (home, ranges) at the end.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync } from 'node:fs';
import { chmod, stat } from 'node:fs/promises';
import path from 'node:path';
import { loadBusyboxImage } from '../../fixtures/base-images/load-busybox.js';
import { PROJECT_ROOT, tsbuild, type CliResult } from './cli.js';

export interface TestUser {
  name: string;
  uid: number;
  home: string;
  /** Runs the tsbuild CLI as this user, with exactly this environment (plus PATH). */
  tsbuild(args: string[], opts?: { env?: NodeJS.ProcessEnv; cwd?: string }): Promise<CliResult>;
  /** Loads the busybox fixture as busybox:latest into the user's default store (~/.local/share/tsbuild). */
  loadBusybox(): Promise<void>;
  /** Removes this user's subordinate ranges (for the missing-range error). */
  dropSubordinateIds(): void;
  addSubordinateIds(): void;
  remove(): void;
}

/** Why rootless tests cannot run here, or undefined. */
export function rootlessSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (to create a test user with a subuid range)';
  for (const tool of ['/usr/sbin/useradd', '/usr/bin/newuidmap', '/usr/bin/newgidmap', '/usr/sbin/runuser']) {
    if (!existsSync(tool)) return `needs ${tool} (Debian packages passwd, uidmap, util-linux)`;
  }
  return undefined;
}

// Ranges far above those useradd hands out, one per test process.
function rangeFor(pid: number): string {
  const start = 1_000_000 + (pid % 1000) * 65536;
  return `${start}-${start + 65535}`;
}

export async function createTestUser(): Promise<TestUser> {
  const name = `tsbrl${process.pid}`;
  const home = `/home/${name}`;
  execFileSync('useradd', ['-m', '-d', home, '-s', '/bin/sh', name]);
  const uid = Number(execFileSync('id', ['-u', name]).toString().trim());
  const range = rangeFor(process.pid);
  const changedModes: [string, number][] = [];
  const user: TestUser = {
    name, uid, home,
    tsbuild: (args, opts = {}) => runAs(name, args, { HOME: home, ...opts.env }, opts.cwd ?? home),
    loadBusybox: async () => {
      // loaded as root, then given to the user
      await loadBusyboxImage('busybox:latest', path.join(home, '.local/share/tsbuild'));
      execFileSync('chown', ['-R', `${name}:`, path.join(home, '.local')]);
    },
    dropSubordinateIds: () => {
      // useradd may have given a range of its own: none may be left.
      for (const file of ['/etc/subuid', '/etc/subgid']) execFileSync('sed', ['-i', `/^${name}:/d`, file]);
    },
    addSubordinateIds: () => { execFileSync('usermod', ['--add-subuids', range, '--add-subgids', range, name]); },
    remove: () => {
      for (const [dir, mode] of changedModes.splice(0)) chmodSync(dir, mode);
      user.dropSubordinateIds();
      execFileSync('userdel', ['-r', '-f', name], { stdio: 'ignore' });
    },
  };
  user.dropSubordinateIds();
  user.addSubordinateIds();
  // The user must reach the CLI from the checkout: folders on the way that
  // others may not enter get o+x (o+r for the checkout) until remove().
  for (let dir = PROJECT_ROOT; dir !== '/'; dir = path.dirname(dir)) {
    const { mode } = await stat(dir);
    const wanted = mode | 0o001 | (dir === PROJECT_ROOT ? 0o004 : 0);
    if (wanted !== mode) {
      await chmod(dir, wanted & 0o7777);
      changedModes.push([dir, mode & 0o7777]);
    }
  }
  return user;
}

// `env -i`: the user's tsbuild sees only these variables (no TSBUILD_ROOT of ours).
function runAs(name: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<CliResult> {
  const vars = Object.entries({ PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', CI: 'true', NO_COLOR: '1', ...env })
    .filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`);
  return tsbuild(args, { root: '', cwd, wrap: ['runuser', '-u', name, '--', 'env', '-i', ...vars] });
}
