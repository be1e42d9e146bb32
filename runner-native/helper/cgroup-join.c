/*
 * Putting the container's init into its cgroups.
 *
 * Moving another process (writing its pid to cgroup.procs) makes the
 * kernel take its global threadgroup lock for writing, which first waits
 * for an RCU grace period: 5-20 ms per sandbox on the development VMs, the
 * largest single cost of starting one.  A thread that moves itself through
 * a cgroup v1 hierarchy's `tasks` file ("0": the writer) skips that lock,
 * and the init is single-threaded when it does so.  So on v1 the helper
 * opens each `tasks` file before the fork and the child moves itself as
 * its first instruction, before it waits for the go byte: nothing of the
 * user's can run outside the cgroup.
 *
 * A cgroup v2 hierarchy has no `tasks` file.  There the child is created
 * in its cgroup: clone3(CLONE_INTO_CGROUP) with the cgroup's directory fd
 * (Linux 5.7; what crun and runc do), whose fork side takes that lock only
 * for reading, so nothing waits and nothing migrates.  Where clone3 is
 * refused (an older kernel; an outer container's seccomp profile that
 * answers ENOSYS or EPERM) the helper forks and writes the pid into
 * cgroup.procs, as before, before it sends the go byte.
 */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

void open_cgroup_tasks(struct config *c)
{
	c->cgroup_tasks_fds = calloc(c->n_cgroup_procs ? c->n_cgroup_procs : 1, sizeof(int));
	if (!c->cgroup_tasks_fds)
		fail("setup", "out of memory");
	c->cgroup_clone_fd = -1;
	c->cgroup_cloned = 0;
	for (size_t i = 0; i < c->n_cgroup_procs; i++) {
		c->cgroup_tasks_fds[i] = -1;
		const char *procs = c->cgroup_procs[i];
		const char *slash = strrchr(procs, '/');
		if (!slash || strcmp(slash, "/cgroup.procs") != 0)
			continue;
		char tasks[4096];
		if (snprintf(tasks, sizeof(tasks), "%.*s/tasks", (int)(slash - procs), procs) >= (int)sizeof(tasks))
			continue;
		c->cgroup_tasks_fds[i] = open(tasks, O_WRONLY | O_CLOEXEC);
		if (c->cgroup_tasks_fds[i] >= 0 || c->cgroup_clone_fd >= 0)
			continue;
		/* no `tasks`: cgroup v2, the child is created in there (one
		 * cgroup per clone3; a v2 host has a single hierarchy) */
		char dir[4096];
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - procs), procs);
		c->cgroup_clone_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		c->cgroup_clone_index = i;
	}
}

/* The test suite forces the fallback on a kernel that has clone3. */
static int clone3_disabled(void)
{
	const char *v = getenv("TSBUILD_SANDBOX_NO_CLONE3");
	return v && *v && strcmp(v, "0") != 0;
}

pid_t fork_into_cgroup(struct config *c)
{
	if (c->cgroup_clone_fd >= 0 && !clone3_disabled()) {
		struct clone_args args;
		memset(&args, 0, sizeof(args));
		args.flags = CLONE_INTO_CGROUP;
		args.exit_signal = SIGCHLD;
		args.cgroup = (uint64_t)c->cgroup_clone_fd;
		/* no stack given: the child returns here on a copy of ours, as
		 * from fork() */
		long pid = syscall(SYS_clone3, &args, sizeof(args));
		if (pid >= 0) {
			c->cgroup_cloned = 1;
			close(c->cgroup_clone_fd);
			c->cgroup_clone_fd = -1;
			return (pid_t)pid;
		}
		/* ENOSYS, EPERM (seccomp), E2BIG, EINVAL (older kernels) and
		 * anything else: the cgroup.procs write below either works or
		 * says why this cgroup cannot be joined */
	}
	return fork();
}

void join_cgroups_self(const struct config *c)
{
	for (size_t i = 0; i < c->n_cgroup_procs; i++) {
		int fd = c->cgroup_tasks_fds[i];
		if (fd < 0)
			continue;
		if (write(fd, "0", 1) != 1)
			fail("setup", "join cgroup %s: %s", c->cgroup_procs[i], strerror(errno));
		close(fd);
	}
}

void join_cgroups(const struct config *c, pid_t pid)
{
	char buf[32];
	int len = snprintf(buf, sizeof(buf), "%d", (int)pid);
	if (c->cgroup_clone_fd >= 0)
		close(c->cgroup_clone_fd);
	for (size_t i = 0; i < c->n_cgroup_procs; i++) {
		if (c->cgroup_tasks_fds[i] >= 0) {
			/* the child's own copy moves it */
			close(c->cgroup_tasks_fds[i]);
			continue;
		}
		if (c->cgroup_cloned && i == c->cgroup_clone_index)
			continue; /* created in there */
		int fd = open(c->cgroup_procs[i], O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, buf, (size_t)len) != len) {
			int saved = errno;
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			errno = saved;
			fail("setup", "join cgroup %s: %s", c->cgroup_procs[i], strerror(errno));
		}
		close(fd);
	}
}
