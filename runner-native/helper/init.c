/*
 * `--init`: a tiny init as the container's PID 1 (what docker-init/tini
 * do).  The command runs as its child; PID 1 forwards the signals it gets
 * (a PID 1 without handlers ignores SIGTERM, so `stop` would wait for the
 * timeout), reaps every orphan that the command's children leave behind
 * (no zombies pile up), and exits with the command's status (128+N when a
 * signal ended it).
 */
#include "sandbox.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile pid_t g_command;

static void forward_signal(int sig)
{
	if (g_command > 0)
		kill(g_command, sig);
}

void run_as_init(const struct config *c, int go_fd)
{
	static const int forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT, SIGTSTP };
	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid_t pid = fork();
	if (pid < 0)
		fail("setup", "fork for --init: %s", strerror(errno));
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		/* the command dies with its init, as it would with the namespace */
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		finalize_and_exec(c, go_fd);
	}
	g_command = pid;
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++) {
		struct sigaction sa = { .sa_handler = forward_signal };
		sigaction(forwarded[i], &sa, NULL);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	/* nothing of the host may stay open in the long-lived init */
	for (int fd = 3; fd < 1024; fd++)
		if (fd != g_error_fd)
			close(fd);
	int status = 0;
	for (;;) {
		int st;
		pid_t done = waitpid(-1, &st, 0);
		if (done < 0) {
			if (errno == EINTR)
				continue;
			break; /* ECHILD: nothing left */
		}
		if (done == pid)
			status = st;
		if (done == pid)
			break;
	}
	/* reap what is already gone, then leave: the namespace takes the rest */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	if (WIFSIGNALED(status))
		_exit(128 + WTERMSIG(status));
	_exit(WEXITSTATUS(status));
}
