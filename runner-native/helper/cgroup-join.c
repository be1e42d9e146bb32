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
 * user's can run outside the cgroup.  Where a hierarchy has no `tasks`
 * file (cgroup v2) the helper writes the pid as before.
 */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void open_cgroup_tasks(struct config *c)
{
	c->cgroup_tasks_fds = calloc(c->n_cgroup_procs ? c->n_cgroup_procs : 1, sizeof(int));
	if (!c->cgroup_tasks_fds)
		fail("setup", "out of memory");
	for (size_t i = 0; i < c->n_cgroup_procs; i++) {
		c->cgroup_tasks_fds[i] = -1;
		const char *procs = c->cgroup_procs[i];
		const char *slash = strrchr(procs, '/');
		if (!slash || strcmp(slash, "/cgroup.procs") != 0)
			continue;
		char tasks[4096];
		if (snprintf(tasks, sizeof(tasks), "%.*s/tasks", (int)(slash - procs), procs) >= (int)sizeof(tasks))
			continue;
		/* ENOENT: cgroup v2, the helper moves the child instead */
		c->cgroup_tasks_fds[i] = open(tasks, O_WRONLY | O_CLOEXEC);
	}
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
	for (size_t i = 0; i < c->n_cgroup_procs; i++) {
		if (c->cgroup_tasks_fds[i] >= 0) {
			/* the child's own copy moves it */
			close(c->cgroup_tasks_fds[i]);
			continue;
		}
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
