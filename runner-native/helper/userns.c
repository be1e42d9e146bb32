/*
 * tsbuild-sandbox userns <uid-map> <gid-map> -- <program> [args...]
 *
 * Rootless mode: runs <program> as root of a new user namespace (with its
 * own mount namespace), mapped through the setuid newuidmap/newgidmap
 * (Debian's uidmap package), which only grant the ranges /etc/subuid and
 * /etc/subgid give this user.  A map is "inside outside count" triples
 * separated by spaces, exactly newuidmap's arguments after the pid.
 *
 * The namespace must be created by a single-threaded process and mapped
 * from outside it, which Node can do neither of; so this helper forks: the
 * child unshares and waits, the parent maps it, then the child becomes
 * root inside and execs.  The parent stays as the child's reaper and
 * passes its exit status on, so a caller sees one process.
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
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile pid_t g_userns_child;

/* Whether we run in a user namespace other than the host's, whose uid map
 * is the identity "0 0 4294967295". */
int in_user_namespace(void)
{
	static int cached = -1;
	if (cached >= 0)
		return cached;
	FILE *f = fopen("/proc/self/uid_map", "r");
	unsigned long inside, outside, count;
	cached = 0;
	if (f) {
		if (fscanf(f, "%lu %lu %lu", &inside, &outside, &count) == 3)
			cached = !(inside == 0 && outside == 0 && count == 4294967295UL && fgetc(f) == '\n' && fgetc(f) == EOF);
		fclose(f);
	}
	return cached;
}

/* Overlay options that keep an upper dir a self-contained diff.  In a user
 * namespace the kernel keeps overlay's xattrs in user.overlay.* (userxattr),
 * which already rules out redirect_dir and metacopy. */
const char *overlay_diff_options(void)
{
	return in_user_namespace() ? "userxattr" : "redirect_dir=off,metacopy=off";
}

static void pass_on(int sig)
{
	if (g_userns_child > 0)
		kill(g_userns_child, sig);
}

/* A Ctrl-C from the terminal (si_code SI_KERNEL) reaches the child through
 * the foreground process group already; one sent to us alone (kill, or our
 * caller passing it on) is passed on, so the child sees each SIGINT once.
 * A SIGINT passed on within a second of a terminal one is that same one. */
static volatile time_t g_last_tty_sigint;

static void pass_on_sigint(int sig, siginfo_t *info, void *ctx)
{
	(void)ctx;
	time_t now = time(NULL);
	if (info->si_code == SI_KERNEL) {
		g_last_tty_sigint = now;
		return;
	}
	if (now - g_last_tty_sigint > 1)
		pass_on(sig);
}

static int run_mapper(const char *tool, pid_t pid, const char *map)
{
	char *copy = strdup(map);
	char *argv[64];
	size_t n = 0;
	char pidbuf[16];
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
	argv[n++] = (char *)tool;
	argv[n++] = pidbuf;
	for (char *tok = strtok(copy, " "); tok && n < 62; tok = strtok(NULL, " "))
		argv[n++] = tok;
	argv[n] = NULL;
	pid_t m = fork();
	if (m < 0)
		return -1;
	if (m == 0) {
		execvp(tool, argv);
		fprintf(stderr, "tsbuild: cannot run %s: %s (install it: apt-get install uidmap)\n", tool, strerror(errno));
		_exit(127);
	}
	int st;
	while (waitpid(m, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	free(copy);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static void child_main(int ready_fd, int go_fd, char **argv)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		_exit(126);
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) {
		fprintf(stderr, "tsbuild: cannot create a user namespace: %s (are user namespaces disabled? sysctl -w kernel.unprivileged_userns_clone=1 user.max_user_namespaces=28633)\n", strerror(errno));
		_exit(126);
	}
	char c = 1;
	if (write(ready_fd, &c, 1) != 1)
		_exit(126);
	/* EOF without a byte: the parent could not map us. */
	if (read(go_fd, &c, 1) != 1)
		_exit(126);
	close(ready_fd);
	close(go_fd);
	if (setresgid(0, 0, 0) < 0 || setgroups(0, NULL) < 0 || setresuid(0, 0, 0) < 0) {
		fprintf(stderr, "tsbuild: cannot become root in the user namespace: %s\n", strerror(errno));
		_exit(126);
	}
	/* Mounts made in here (overlays of the steps) never reach the host's
	 * mount table, and vanish with the last process of the namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		fprintf(stderr, "tsbuild: cannot make the mounts private: %s\n", strerror(errno));
		_exit(126);
	}
	execvp(argv[0], argv);
	fprintf(stderr, "tsbuild: cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

int userns_main(int argc, char **argv)
{
	if (argc < 6 || strcmp(argv[4], "--")) {
		fprintf(stderr, "usage: %s userns <uid-map> <gid-map> -- <program> [args...]\n", argv[0]);
		return 2;
	}
	int ready[2], go[2];
	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0) {
		perror("tsbuild: pipe");
		return 126;
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("tsbuild: fork");
		return 126;
	}
	if (pid == 0) {
		close(ready[0]);
		close(go[1]);
		child_main(ready[1], go[0], argv + 5);
	}
	close(ready[1]);
	close(go[0]);
	g_userns_child = pid;
	/* Signals sent to us are passed on (SIGINT once, see above), and we
	 * wait for the child's exit. */
	signal(SIGQUIT, SIG_IGN);
	struct sigaction si = { .sa_sigaction = pass_on_sigint, .sa_flags = SA_SIGINFO };
	sigaction(SIGINT, &si, NULL);
	struct sigaction sa = { .sa_handler = pass_on };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	char c;
	int mapped = read(ready[0], &c, 1) == 1 && run_mapper("newuidmap", pid, argv[2]) == 0 && run_mapper("newgidmap", pid, argv[3]) == 0;
	if (mapped && write(go[1], &c, 1) != 1)
		mapped = 0;
	close(go[1]);
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return 126;
	if (!mapped) {
		if (WIFEXITED(st) && WEXITSTATUS(st) == 126)
			return 126;
		fprintf(stderr, "tsbuild: newuidmap/newgidmap could not map the user namespace (check /etc/subuid and /etc/subgid)\n");
		return 126;
	}
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st)) {
		int sig = WTERMSIG(st);
		signal(sig, SIG_DFL);
		raise(sig);
		return 128 + sig;
	}
	return 126;
}
