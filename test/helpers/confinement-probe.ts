// A tiny static C program for sandbox tests: each argument names one
// probe, and it prints `name=ok` or `name=<errno name>` per probe, so a
// test sees exactly which call the sandbox refused and how. Compiled once
// per test process with the system gcc (glibc's static libc).
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { e2eRunSuite, type E2eRunSuite } from '../e2e-step-run-helpers.js';
import { runIf } from './skip.js';
import { tempDirSync } from './temp-dirs.js';

const SOURCE = String.raw`
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <linux/bpf.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void report(const char *name, long rc)
{
	printf("%s=%s\n", name, rc < 0 ? strerrorname_np(errno) : "ok");
}

/* a raw clone: rc 0 is the child, which leaves at once */
static long child_exits(long rc)
{
	if (rc == 0)
		_exit(0);
	if (rc > 0)
		waitpid((pid_t)rc, NULL, __WALL);
	return rc;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *p = argv[i];
		long rc;
		if (!strcmp(p, "add_key")) {
			rc = syscall(SYS_add_key, "user", "tsbuild-probe", "v", 1, -2 /* process keyring */);
		} else if (!strcmp(p, "keyctl")) {
			rc = syscall(SYS_keyctl, 0 /* GET_KEYRING_ID */, -2, 1);
		} else if (!strcmp(p, "bpf")) {
			union bpf_attr a;
			memset(&a, 0, sizeof(a));
			a.map_type = BPF_MAP_TYPE_ARRAY; a.key_size = 4; a.value_size = 4; a.max_entries = 1;
			rc = syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof(a));
		} else if (!strcmp(p, "io_uring_setup")) {
			char params[120];
			memset(params, 0, sizeof(params));
			rc = syscall(SYS_io_uring_setup, 1, params);
		} else if (!strcmp(p, "clone_newuser")) {
			rc = child_exits(syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0));
		} else if (!strcmp(p, "clone_newns")) {
			rc = child_exits(syscall(SYS_clone, CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0));
		} else if (!strcmp(p, "clone3")) {
			struct clone_args ca;
			memset(&ca, 0, sizeof(ca));
			ca.exit_signal = SIGCHLD;
			rc = child_exits(syscall(SYS_clone3, &ca, sizeof(ca)));
		} else if (!strcmp(p, "fork")) {
			rc = child_exits(fork());
		} else if (!strcmp(p, "personality_noaslr")) {
			rc = personality(ADDR_NO_RANDOMIZE);
			if (rc >= 0)
				personality(0);
		} else if (!strcmp(p, "personality_query")) {
			rc = personality(0xffffffff);
		} else if (!strcmp(p, "vsock")) {
			rc = socket(40 /* AF_VSOCK */, SOCK_STREAM, 0);
		} else if (!strcmp(p, "inet")) {
			rc = socket(AF_INET, SOCK_STREAM, 0);
		} else if (!strcmp(p, "mkdir")) {
			rc = mkdir("/tmp/probe-dir", 0755);
		} else if (!strncmp(p, "become:", 7)) {
			/* the probes after this one run as that uid (and gid) */
			gid_t id = (gid_t)atoi(p + 7);
			rc = setgroups(0, NULL) < 0 || setresgid(id, id, id) < 0 || setresuid(id, id, id) < 0 ? -1 : 0;
			p = "become";
		} else if (!strncmp(p, "ptrace:", 7)) {
			pid_t target = (pid_t)atoi(p + 7);
			rc = ptrace(PTRACE_ATTACH, target, 0, 0);
			if (rc == 0) {
				waitpid(target, NULL, __WALL);
				ptrace(PTRACE_DETACH, target, 0, 0);
			}
			p = "ptrace";
		} else {
			fprintf(stderr, "unknown probe %s\n", p);
			return 2;
		}
		report(p, rc);
	}
	return 0;
}
`;

/** Compiles the probe to `dest`; returns why it cannot be built here (no gcc, no static glibc), or null. */
export function buildConfinementProbe(dest: string): string | null {
  const dir = mkdtempSync(join(tmpdir(), 'tsbuild-probe-'));
  try {
    writeFileSync(join(dir, 'probe.c'), SOURCE);
    execFileSync('gcc', ['-static', '-O1', '-o', dest, join(dir, 'probe.c')], { stdio: 'pipe' });
    return null;
  } catch (err) {
    return `cannot build the static probe with gcc: ${String((err as { stderr?: Buffer }).stderr ?? err).split('\n')[0]}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface ConfinementSuite {
  suite: E2eRunSuite;
  it: E2eRunSuite['it'];
  /** a build context with the probe binary at ./probe (plus `files`) */
  contextWithProbe(files?: Record<string, string>): Promise<string>;
}

/** An end-to-end suite whose tests run the probe; skipped with the reason where it cannot be built. */
export function confinementSuite(title: string): ConfinementSuite {
  const suite = e2eRunSuite(title);
  // synchronous: AVA wants every test declared in the first tick
  // Removed when the file is done, even when all its tests skip (ava then runs no after.always hook).
  const dir = tempDirSync('tsbuild-e2e-probe-');
  const skip = suite.skip ? undefined : buildConfinementProbe(join(dir, 'probe')) ?? undefined;
  return {
    suite,
    // without the probe every test is declared skipped, its title saying why
    it: runIf(skip, suite.it) as E2eRunSuite['it'],
    async contextWithProbe(files = {}) {
      const ctx = await suite.context({ 'ctx.txt': 'x', ...files });
      copyFileSync(join(dir, 'probe'), join(ctx, 'probe'));
      return ctx;
    },
  };
}

/** `name=value` lines of the probe's output as a record. */
export function probeResults(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const m = /^([\w]+)=(\S+)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/** Shell lines: mknod and use /dev/kmsg (1:11, refused), then the devices every program may use. */
export const DEVICE_PROBE = `mknod /dev/km c 1 11 && (echo tsbuild-device-probe > /dev/km) 2>&1 || echo km-refused; \\
(echo x > /dev/null && head -c 1 /dev/zero | wc -c && head -c 1 /dev/urandom | wc -c && (exec 3<> /dev/ptmx) && echo standard-ok) 2>&1`;

/** Probes whose answers under Docker's default profile are REFUSED_BY_DEFAULT. */
export const SECCOMP_PROBES = 'add_key keyctl bpf io_uring_setup clone_newuser personality_noaslr vsock fork inet mkdir';
export const REFUSED_BY_DEFAULT = { add_key: 'EPERM', keyctl: 'EPERM', bpf: 'EPERM', io_uring_setup: 'EPERM', clone_newuser: 'EPERM', personality_noaslr: 'EPERM', vsock: 'EPERM', fork: 'ok', inet: 'ok', mkdir: 'ok' };
