/*
 * `tsbuild-sandbox netns [--slirp PATH SLIRP-OPTION...]`: holds a fresh
 * network namespace (with its lo up) for as long as its stdin stays open,
 * so sandboxes can join it through /proc/<pid>/ns/net
 * (runner-native/network-pool.ts). When tsbuild exits or is killed, the
 * pipe closes (or PDEATHSIG fires) and the namespace goes with us.
 *
 * With --slirp, we start slirp4netns for our namespace ourselves (its
 * options, then --exit-fd, --ready-fd, our pid and tap0): a fork of this
 * small process rather than of tsbuild's whole Node process. Its exit fd
 * is a pipe only we hold open, so it ends when we do, however we end.
 *
 * Prints "ready" once the namespace (and slirp4netns' tap device) is up,
 * or "slirp-failed" once slirp4netns died without getting ready (its own
 * stderr, which is ours, says why); the namespace is held either way.
 */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

struct slirp {
	pid_t pid;
	int gate;  /* closed once our namespace exists: slirp4netns may start */
	int ready; /* slirp4netns writes "1" once tap0 is configured */
};

/* Forks slirp4netns (opts[0] = its path, then its options) for our pid's
 * namespace. Forked before we leave the host's network namespace (it must
 * stay there: its sockets reach out for the sandbox), it execs only once
 * the gate closes, when our own namespace exists. */
static int spawn_slirp(char **opts, int nopts, struct slirp *s)
{
	int exitp[2], readyp[2], gatep[2];
	if (pipe2(exitp, O_CLOEXEC) < 0 || pipe2(readyp, O_CLOEXEC) < 0 || pipe2(gatep, O_CLOEXEC) < 0) {
		fprintf(stderr, "netns: pipe: %s\n", strerror(errno));
		return -1;
	}
	char pid[16];
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	char **argv = calloc((size_t)nopts + 5, sizeof(char *));
	if (!argv)
		return -1;
	int n = 0;
	for (int i = 0; i < nopts; i++)
		argv[n++] = opts[i];
	argv[n++] = "--exit-fd=3";
	argv[n++] = "--ready-fd=4";
	argv[n++] = pid;
	argv[n++] = "tap0";
	s->pid = fork();
	if (s->pid < 0) {
		fprintf(stderr, "netns: fork: %s\n", strerror(errno));
		return -1;
	}
	if (s->pid == 0) {
		char go;
		close(gatep[1]);
		while (read(gatep[0], &go, 1) < 0 && errno == EINTR)
			;
		/* fds 3 and 4 as slirp4netns is told; stdin and stdout (its
		 * chatter) nowhere, stderr ours (tsbuild reads it on failure). */
		int null = open("/dev/null", O_RDWR);
		if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0 ||
		    dup2(exitp[0], 3) < 0 || dup2(readyp[1], 4) < 0)
			_exit(127);
		/* dup2 onto the same number keeps close-on-exec */
		fcntl(3, F_SETFD, 0);
		fcntl(4, F_SETFD, 0);
		execv(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	free(argv);
	/* exitp[1] stays open, unused, until we exit: slirp4netns' exit fd */
	close(exitp[0]);
	close(readyp[1]);
	close(gatep[0]);
	s->gate = gatep[1];
	s->ready = readyp[0];
	return 0;
}

/* 0 once slirp4netns' tap device is configured, -1 if it died first. */
static int wait_slirp_ready(struct slirp *s)
{
	close(s->gate);
	char c;
	ssize_t r;
	while ((r = read(s->ready, &c, 1)) < 0 && errno == EINTR)
		;
	close(s->ready);
	if (r == 1)
		return 0;
	int status = 0;
	while (waitpid(s->pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status))
		fprintf(stderr, "slirp4netns exited with %d\n", WEXITSTATUS(status));
	else
		fprintf(stderr, "slirp4netns killed by signal %d\n", WTERMSIG(status));
	return -1;
}

int netns_holder_main(int argc, char **argv)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) {
		fprintf(stderr, "netns: %s\n", strerror(errno));
		return 1;
	}
	struct slirp slirp = { .pid = -1, .gate = -1, .ready = -1 };
	int with_slirp = argc >= 4 && !strcmp(argv[2], "--slirp");
	if (with_slirp && spawn_slirp(argv + 3, argc - 3, &slirp) < 0)
		return 1;
	if (unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "netns: %s\n", strerror(errno));
		return 1;
	}
	/* setup_network brings lo up in a namespace of ours */
	struct config c;
	memset(&c, 0, sizeof(c));
	c.ns_flags = CLONE_NEWNET;
	setup_network(&c);
	const char *state = "ready\n";
	if (with_slirp && wait_slirp_ready(&slirp) < 0)
		state = "slirp-failed\n";
	if (write(STDOUT_FILENO, state, strlen(state)) != (ssize_t)strlen(state))
		return 1;
	char buf[64];
	while (read(STDIN_FILENO, buf, sizeof(buf)) > 0)
		;
	return 0;
}
