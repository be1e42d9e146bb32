/*
 * tsbuild-sandbox <config-file>
 * tsbuild-sandbox --config-on-stdin
 *
 * The second form is started ahead of its run (by the fsop helper as it
 * starts, fsop-children.c) and waits for the config file's path, one line
 * on stdin; then stdin becomes /dev/null and it runs as the first would.
 * Stdin closed without a path (tsbuild ran no RUN): it exits quietly.
 *
 * fd 3 is the status channel to the TS side; one line per event:
 *   pid\t<host pid of the container init>
 *   created\t<path inside the rootfs we had to create as a mountpoint>
 *   error\t<code>\t<message>      setup failed, nothing was executed
 *   exit\t<code> | signal\t<num>  how the container's init ended
 *
 * Process layout: this helper stays in the host PID namespace as the
 * reaper and reporter; its only child is PID 1 of the new namespaces and
 * becomes the command itself (so `echo $$` prints 1, as in Docker).
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile pid_t g_child;
static const int forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };

/* Signals sent to the helper go to the container init.  Note the kernel
 * drops signals a PID-1 has no handler for (except SIGKILL/SIGSTOP from
 * us, an ancestor namespace), exactly as in `docker run` without --init. */
static void forward(int sig)
{
	if (g_child > 0)
		kill(g_child, sig);
}

static void container_child(const struct config *c, int go_fd, int err_fd, int console_fd)
{
	g_error_fd = err_fd;
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		signal(forwarded[i], SIG_DFL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* If the helper dies (tsbuild kill -9ed, which kills the helper via
	 * its own PDEATHSIG), we die too, and as PID 1 our death makes the
	 * kernel kill every process in the namespace. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		fail("setup", "pdeathsig: %s", strerror(errno));
	/* Into the cgroup before anything of the user's runs, so that limits
	 * hold: v1 hierarchies here (cgroup-join.c); a v2 one we were created
	 * in, or the helper moves us before it sends the go byte.  EOF means
	 * it died. */
	join_cgroups_self(c);
	char go;
	if (read(go_fd, &go, 1) != 1)
		_exit(127);
	/* A fixed umask, not whatever tsbuild had: created files are
	 * reproducible (runc does the same). */
	umask(022);
	join_network_namespace(c);
	if (unshare(c->ns_flags & ~CLONE_NEWPID) < 0)
		fail("setup", "unshare: %s", strerror(errno));
	apply_sysctls(c);
	setup_rootfs(c);
	setup_network(c);
	if (console_fd >= 0)
		pty_setup_child(c, console_fd);
	if (c->init)
		run_as_init(c, go_fd);
	finalize_and_exec(c, go_fd);
}

/* The config's path, one line on stdin (see the top); 0, or -1 at EOF.
 * Nothing follows the line: reading past it loses nothing. */
static int config_path_from_stdin(char *path, size_t size)
{
	size_t used = 0;
	char *nl = NULL;
	while (!nl) {
		if (used + 1 >= size)
			return -1;
		ssize_t n = read(STDIN_FILENO, path + used, size - 1 - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		nl = memchr(path + used, '\n', (size_t)n);
		used += (size_t)n;
	}
	*nl = 0;
	/* as a child spawned with stdin ignored: /dev/null, read-only */
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null < 0 || dup2(null, STDIN_FILENO) < 0)
		return -1;
	close(null);
	return nl > path ? 0 : -1;
}

static void relay_child_error(int err_fd)
{
	char buf[8192];
	size_t used = 0;
	ssize_t n;
	while (used < sizeof(buf) - 1 && (n = read(err_fd, buf + used, sizeof(buf) - 1 - used)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		used += (size_t)n;
	}
	buf[used] = 0;
	char *nl = strchr(buf, '\n');
	if (nl)
		*nl = 0;
	if (used)
		status_line("error\t%s", buf);
}

int main(int argc, char **argv)
{
	/* One binary, three jobs: the sandbox launcher, the fsop server, and
	 * the holder of a shared network namespace. */
	if (argc >= 2 && !strcmp(argv[1], "fsop"))
		return fsop_main(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "netns"))
		return netns_holder_main(argc, argv);
	/* ... and the rootless user-namespace entry. */
	if (argc >= 2 && !strcmp(argv[1], "userns"))
		return userns_main(argc, argv);
	if (argc != 2) {
		fprintf(stderr, "usage: %s <config-file> | --config-on-stdin  (status on fd 3)\n", argv[0]);
		return 2;
	}
	static char stdin_config[4096];
	int waits = !strcmp(argv[1], "--config-on-stdin");
	struct stat st;
	if (fstat(3, &st) == 0)
		g_status_fd = 3;
	fcntl(3, F_SETFD, FD_CLOEXEC);

	/* tsbuild killed (even kill -9) -> the helper gets SIGKILL -> its
	 * child, the container init, gets its own PDEATHSIG. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		fail("setup", "pdeathsig: %s", strerror(errno));
	if (waits) {
		if (config_path_from_stdin(stdin_config, sizeof(stdin_config)) < 0)
			return 0;
		argv[1] = stdin_config;
	}

	struct config cfg;
	char err[512];
	if (parse_config(argv[1], &cfg, err, sizeof(err)) < 0)
		fail("config", "%s", err);
	/* tsbuild may have died before PDEATHSIG was armed */
	if (cfg.owner_pid && getppid() != cfg.owner_pid)
		return 1;
	/* compiled (or read back) here, in the host's namespaces, where the
	 * cache dir is; loaded just before exec */
	prepare_seccomp(&cfg);
	if (cfg.join_pid)
		return exec_main(&cfg);

	/* before the container exists: its first instruction already runs
	 * under the device rules */
	attach_device_program(&cfg);
	open_cgroup_tasks(&cfg);

	int go[2], errp[2];
	if (pipe2(go, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0)
		fail("setup", "pipe: %s", strerror(errno));
	int console[2] = { -1, -1 };
	if (cfg.terminal && pty_socketpair(console) < 0)
		fail("setup", "socketpair: %s", strerror(errno));

	/* unshare(CLONE_NEWPID) only affects children: the helper stays in the
	 * host namespace (to reap and report), its next child is PID 1. */
	if ((cfg.ns_flags & CLONE_NEWPID) && unshare(CLONE_NEWPID) < 0)
		fail("setup", "unshare pid namespace: %s", strerror(errno));

	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++) {
		struct sigaction sa = { .sa_handler = forward };
		sigaction(forwarded[i], &sa, NULL);
	}

	pid_t pid = fork_into_cgroup(&cfg);
	if (pid < 0)
		fail("setup", "fork: %s", strerror(errno));
	if (pid == 0) {
		close(go[1]);
		close(errp[0]);
		if (console[0] >= 0)
			close(console[0]);
		container_child(&cfg, go[0], errp[1], console[1]);
	}
	g_child = pid;
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(go[0]);
	close(errp[1]);
	if (console[1] >= 0)
		close(console[1]);

	run_child_to_end(&cfg, pid, go[1], errp[0], console[0]);
	g_child = 0;
	return 0;
}

/* Shared by a new container and an exec: cgroup, go, pty relay, wait, report. */
void run_child_to_end(const struct config *cfg, pid_t pid, int go_fd, int err_fd, int console_fd)
{
	join_cgroups(cfg, pid);
	status_line("pid\t%d", (int)pid);
	/* go_fd stays open for as long as we live: the child polls it to
	 * notice our death in the window where PDEATHSIG was re-armed. */
	if (write(go_fd, "1", 1) != 1)
		fail("setup", "start child: %s", strerror(errno));
	if (console_fd >= 0)
		pty_relay(console_fd, pid);

	int wstatus;
	while (waitpid(pid, &wstatus, 0) < 0) {
		if (errno != EINTR)
			fail("setup", "waitpid: %s", strerror(errno));
	}
	/* Setup errors arrive before the child exits; once exec succeeded the
	 * close-on-exec pipe is simply empty. */
	relay_child_error(err_fd);
	if (WIFEXITED(wstatus))
		status_line("exit\t%d", WEXITSTATUS(wstatus));
	else if (WIFSIGNALED(wstatus))
		status_line("signal\t%d", WTERMSIG(wstatus));
}
