/*
 * `tsbuild-sandbox prestart COMMAND ARG...`: starts the fsop server a
 * local build will ask for, then execs COMMAND (Node running the CLI) in
 * this same process.  bin/tsbuild goes through here for `build`.
 *
 * Started by Node, the server is a fork of the whole Node process: 3 ms of
 * its only thread in a one-file rebuild (a page table of ~60 MB copied,
 * the child's exec waited for), and a copy-on-write fault on every page
 * Node writes after it.  Forked here, before Node exists, it costs this
 * small process a fork and runs its start-up while Node starts.
 *
 * The server is what runner-native/fsop.ts would start as its private
 * helper: `fsop --owner <our pid> --private-mounts`, with a sandbox helper
 * waiting for its config as its child (waiting-helper.ts).  Our pid stays
 * Node's, so the owner check and PDEATHSIG hold as if Node had started it.
 * Node finds it in TSBUILD_PRESTARTED_FSOP: "PID IN,OUT,ERR S0,S1,S2 EXE",
 * Node's ends of the server's stdio and of the sandbox helper's three
 * sockets (fsop.ts FsopChildSpec fds [0, 1, 2, 0]), and the binary both
 * run.  Node marks inherited descriptors close-on-exec as it starts, so
 * none of them reaches a process Node starts; a build that never asks for
 * the server (a no-op) closes them at exit, and the server ends then.
 *
 * Only where Node would start that helper: as root outside a user
 * namespace (a rootless build has no private mounts).  Anywhere else, or
 * if anything fails, COMMAND runs as it would have without us.
 */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SOCKETS 6 /* the server's stdin, stdout, stderr; the sandbox helper's three */
/* where the server's ends are parked before they are placed at 0..5 */
#define PARK_FD 100

static void exec_server(const char *exe, int ends[SOCKETS], pid_t owner)
{
	for (int k = 0; k < SOCKETS; k++)
		if (fcntl(ends[k], F_DUPFD, PARK_FD + k) != PARK_FD + k)
			_exit(127);
	for (int k = 0; k < SOCKETS; k++)
		if (dup2(PARK_FD + k, k) != k)
			_exit(127);
	for (int fd = SOCKETS; fd < PARK_FD + SOCKETS; fd++)
		close(fd);
	char owner_text[16];
	snprintf(owner_text, sizeof(owner_text), "%d", (int)owner);
	/* the sandbox helper's fds 0, 1, 2, 3 are our 3, 4, 5, 3 */
	char *argv[] = { (char *)exe, "fsop", "--owner", owner_text, "--private-mounts",
		"--child", "3,4,5,3", "2", (char *)exe, "--config-on-stdin", NULL };
	execv(exe, argv);
	_exit(127);
}

/* Starts the server; 0 and the variable set, or -1 with nothing left behind. */
static int start_server(void)
{
	static char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -1;
	exe[n] = 0;
	int ours[SOCKETS], theirs[SOCKETS];
	int made = 0;
	for (; made < SOCKETS; made++) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			break;
		ours[made] = sv[0];
		theirs[made] = sv[1];
	}
	pid_t owner = getpid();
	pid_t pid = made == SOCKETS ? fork() : -1;
	if (pid == 0)
		exec_server(exe, theirs, owner);
	for (int k = 0; k < made; k++)
		close(theirs[k]);
	if (pid < 0) {
		for (int k = 0; k < made; k++)
			close(ours[k]);
		return -1;
	}
	/* ours reach Node: not close-on-exec */
	for (int k = 0; k < SOCKETS; k++)
		fcntl(ours[k], F_SETFD, 0);
	static char value[PATH_MAX + 128];
	snprintf(value, sizeof(value), "%d %d,%d,%d %d,%d,%d %s", (int)pid,
		ours[0], ours[1], ours[2], ours[3], ours[4], ours[5], exe);
	return setenv("TSBUILD_PRESTARTED_FSOP", value, 1);
}

int prestart_main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s prestart COMMAND [ARG...]\n", argv[0]);
		return 2;
	}
	unsetenv("TSBUILD_PRESTARTED_FSOP");
	if (geteuid() == 0 && !in_user_namespace())
		start_server();
	execvp(argv[2], argv + 2);
	fprintf(stderr, "tsbuild: cannot run %s: %s\n", argv[2], strerror(errno));
	return 127;
}
