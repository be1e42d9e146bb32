// Rootless mode: tsbuild run by a user re-executes itself as root of a user
// namespace (the helper's `userns` mode), container root mapped to the user
// and container uids 1..65535 to the user's /etc/subuid range, as rootless
// BuildKit, buildah and podman do. This module finds out whether we are in
// such a namespace and what entering one needs.
import { accessSync, constants, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// A process changes its user namespace only by unshare() or setns() of its
// own, which Node never makes (the helper does, in its own process): read
// once. A RUN asks ~8 times (sandbox, cgroups, mounts).
let userNamespace: boolean | undefined;

/** True when this process runs in a user namespace other than the host's (whose map is the identity). */
export function inUserNamespace(): boolean {
  userNamespace ??= uidMapIsNotIdentity();
  return userNamespace;
}

function uidMapIsNotIdentity(): boolean {
  let map: string;
  try {
    map = readFileSync('/proc/self/uid_map', 'utf8');
  } catch {
    return false;
  }
  const lines = map.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' '));
  return !(lines.length === 1 && lines[0] === '0 0 4294967295');
}

/** Root of a user namespace (rootless mode), as opposed to the host's root. */
export function isRootless(): boolean {
  return process.getuid?.() !== 0 || inUserNamespace();
}

export interface IdRange { start: number; count: number }

/** The user's range in /etc/subuid or /etc/subgid (`name:start:count` or `uid:start:count` lines). */
export function subordinateRange(text: string, user: string, id: number): IdRange | undefined {
  for (const line of text.split('\n')) {
    const [who, start, count] = line.trim().split(':');
    if ((who === user || who === String(id)) && Number(count) > 0) return { start: Number(start), count: Number(count) };
  }
  return undefined;
}

/** A free range to suggest: the first 65536 ids after every range in the file. */
function suggestedRange(text: string): string {
  let end = 100000;
  for (const line of text.split('\n')) {
    const [, start, count] = line.trim().split(':');
    if (Number(count) > 0) end = Math.max(end, Number(start) + Number(count));
  }
  return `${end}-${end + 65535}`;
}

function readOr(file: string, fallback: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

function onPath(program: string, envPath: string): boolean {
  return envPath.split(':').filter(Boolean).some((dir) => {
    try {
      accessSync(path.join(dir, program), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export interface UserNamespaceMaps { uidMap: string; gidMap: string }
export type RootlessCheck = { ok: true; maps: UserNamespaceMaps } | { ok: false; reason: string };

export interface RootlessFiles { subuid: string; subgid: string; proc: string }
const SYSTEM_FILES: RootlessFiles = { subuid: '/etc/subuid', subgid: '/etc/subgid', proc: '/proc/sys' };

/**
 * What entering the user namespace needs, checked in the order a user
 * fixes it: user namespaces enabled, newuidmap/newgidmap installed, a
 * subordinate id range. Each failure is one line that says the fix.
 */
export function checkRootless(env: NodeJS.ProcessEnv = process.env, files: RootlessFiles = SYSTEM_FILES): RootlessCheck {
  if (readOr(path.join(files.proc, 'kernel/unprivileged_userns_clone'), '1').trim() === '0') {
    return { ok: false, reason: 'user namespaces are disabled for unprivileged users: enable them with `sudo sysctl -w kernel.unprivileged_userns_clone=1`' };
  }
  if (readOr(path.join(files.proc, 'user/max_user_namespaces'), '1').trim() === '0') {
    return { ok: false, reason: 'user namespaces are disabled (user.max_user_namespaces is 0): enable them with `sudo sysctl -w user.max_user_namespaces=28633`' };
  }
  for (const tool of ['newuidmap', 'newgidmap']) {
    if (!onPath(tool, env.PATH ?? '/usr/bin:/bin')) {
      return { ok: false, reason: `${tool} is missing: install it with \`sudo apt-get install uidmap\` (Fedora: shadow-utils)` };
    }
  }
  const uid = process.getuid!();
  const gid = process.getgid!();
  const user = os.userInfo().username;
  const subuidText = readOr(files.subuid, '');
  const subgidText = readOr(files.subgid, '');
  const uids = subordinateRange(subuidText, user, uid);
  const gids = subordinateRange(subgidText, user, uid);
  if (!uids || !gids) {
    const missing = !uids ? files.subuid : files.subgid;
    const range = suggestedRange(!uids ? subuidText : subgidText);
    return { ok: false, reason: `user ${user} has no subordinate id range in ${missing}: add one with \`sudo usermod --add-subuids ${range} --add-subgids ${range} ${user}\`` };
  }
  // Container ids 1..65535 (fewer if the range is smaller) map onto the range.
  const mapOf = (self: number, r: IdRange) => `0 ${self} 1 1 ${r.start} ${Math.min(r.count, 65535)}`;
  return { ok: true, maps: { uidMap: mapOf(uid, uids), gidMap: mapOf(gid, gids) } };
}

/** The highest gid this namespace maps (the kernel refuses ranges beyond it, e.g. in ping_group_range). */
export function highestMappedGid(): number {
  let map = '';
  try {
    map = readFileSync('/proc/self/gid_map', 'utf8');
  } catch {
    return 0;
  }
  return Math.max(0, ...map.trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number)).map(([inside, , count]) => inside! + count! - 1));
}
