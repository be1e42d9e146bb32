/*
 * `tsbuild exec`: one more process in a running container.
 *
 * Instead of making namespaces, the helper joins those of the container's
 * init (given as `join_pid`): ipc, uts, net and pid here (a pid namespace
 * only applies to children, hence the fork), the mount namespace in the
 * child (which also moves its root and cwd into the container's root,
 * where the container's own /proc and /etc are).  The child enters the
 * container's cgroup before it runs anything, then takes the same road as
 * a container's init: rlimits, cwd, capabilities, user, exec.
 */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

static int open_ns(pid_t pid, const char *name)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fail("setup", "container process %d: open %s: %s", (int)pid, path, strerror(errno));
	return fd;
}

static void join(int fd, int type, const char *name)
{
	if (setns(fd, type) < 0)
		fail("setup", "join the container's %s namespace: %s", name, strerror(errno));
	close(fd);
}

static volatile pid_t g_exec_child;

static void forward_to_child(int sig)
{
	if (g_exec_child > 0)
		kill(g_exec_child, sig);
}

/* A container started rootless lives in the user namespace its `run` made;
 * a later exec, run by the same user, joins that namespace first: its owner
 * holds every capability in it, and only from inside may the container's
 * other namespaces be joined. */
static void join_user_namespace(pid_t pid)
{
	int theirs = open_ns(pid, "user");
	struct stat a, b;
	if (fstat(theirs, &a) < 0 || stat("/proc/self/ns/user", &b) < 0)
		fail("setup", "stat user namespaces: %s", strerror(errno));
	if (a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
		close(theirs);
		return;
	}
	join(theirs, CLONE_NEWUSER, "user");
	/* the owner is root in there (mapped to it); become so in full */
	if (setresgid(0, 0, 0) < 0 || setgroups(0, NULL) < 0 || setresuid(0, 0, 0) < 0)
		fail("setup", "become root in the container's user namespace: %s", strerror(errno));
}

int exec_main(struct config *c)
{
	/* every fd opened before the first setns: afterwards /proc/<pid> of
	 * the host may not be reachable the same way */
	int ipc = open_ns(c->join_pid, "ipc"), uts = open_ns(c->join_pid, "uts");
	int net = open_ns(c->join_pid, "net"), pidns = open_ns(c->join_pid, "pid");
	int mnt = open_ns(c->join_pid, "mnt");
	join_user_namespace(c->join_pid);
	join(ipc, CLONE_NEWIPC, "ipc");
	join(uts, CLONE_NEWUTS, "uts");
	join(net, CLONE_NEWNET, "network");
	join(pidns, CLONE_NEWPID, "pid");

	open_cgroup_tasks(c);
	int go[2], errp[2], console[2] = { -1, -1 };
	if (pipe2(go, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0)
		fail("setup", "pipe: %s", strerror(errno));
	if (c->terminal && pty_socketpair(console) < 0)
		fail("setup", "socketpair: %s", strerror(errno));

	static const int forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };
	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++) {
		struct sigaction sa = { .sa_handler = forward_to_child };
		sigaction(forwarded[i], &sa, NULL);
	}
	pid_t pid = fork_into_cgroup(c);
	if (pid < 0)
		fail("setup", "fork: %s", strerror(errno));
	if (pid == 0) {
		close(go[1]);
		close(errp[0]);
		if (console[0] >= 0)
			close(console[0]);
		g_error_fd = errp[1];
		for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
			signal(forwarded[i], SIG_DFL);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
			fail("setup", "pdeathsig: %s", strerror(errno));
		join_cgroups_self(c);
		char gobyte;
		if (read(go[0], &gobyte, 1) != 1)
			_exit(127);
		umask(022);
		join(mnt, CLONE_NEWNS, "mount");
		if (console[1] >= 0)
			pty_setup_child(c, console[1]);
		finalize_and_exec(c, go[0]);
	}
	g_exec_child = pid;
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(go[0]);
	close(errp[1]);
	close(mnt);
	if (console[1] >= 0)
		close(console[1]);
	run_child_to_end(c, pid, go[1], errp[0], console[0]);
	g_exec_child = 0;
	return 0;
}
