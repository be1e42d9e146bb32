/*
 * Processes the fsop server starts for tsbuild as it starts itself
 * (`fsop ... --child FDS COUNT PATH ARG...`, any number of times): a RUN's
 * network namespace holder and its sandbox launcher, made while the build
 * still hashes and copies files.  Started by tsbuild they would each be a
 * fork of its whole Node process, which blocks its only thread for ~1 ms
 * plus ~0.035 ms per MB of its memory until the child has exec'd; a fork of
 * this small process costs tsbuild nothing.
 *
 * FDS are our descriptors (tsbuild's extra stdio, sockets) that become the
 * child's 0, 1, 2, ...; nothing else of ours reaches it.  The child dies
 * with us (PDEATHSIG), as we die with tsbuild, and starts as a child of
 * tsbuild would: default signal dispositions, nothing blocked, tsbuild's
 * umask, the host's mount namespace (we leave it only after this).
 *
 * We never wait for a child: a dead one stays a zombie until we exit, so
 * its pid is never another process's while tsbuild may still signal it.
 * The pids go to tsbuild as the first reply on our stdout, before any
 * request's: u32 count, then one u32 pid each (0: the fork failed).
 */
#include "fsop.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_CHILD_FDS 8
/* where the child parks its descriptors before placing them at 0, 1, ... */
#define PARK_FD 100

struct child_spec {
	int fds[MAX_CHILD_FDS];
	int nfds;
	char **argv; /* NULL-terminated, into a copy of our argv */
};

static struct child_spec specs[4];
static int nspecs;

static int parse_fds(const char *list, struct child_spec *s)
{
	const char *p = list;
	s->nfds = 0;
	while (*p) {
		char *end;
		long fd = strtol(p, &end, 10);
		if (end == p || fd < 3 || fd >= PARK_FD || s->nfds == MAX_CHILD_FDS)
			return -1;
		s->fds[s->nfds++] = (int)fd;
		if (*end == ',')
			end++;
		else if (*end)
			return -1;
		p = end;
	}
	return s->nfds > 0 ? 0 : -1;
}

/* Takes `FDS COUNT PATH ARG...` at argv[*i + 1]; advances *i past them. */
int fsop_child_arg(int argc, char **argv, int *i)
{
	if (nspecs == (int)(sizeof(specs) / sizeof(specs[0])) || *i + 3 >= argc)
		return -1;
	struct child_spec *s = &specs[nspecs];
	if (parse_fds(argv[*i + 1], s) < 0)
		return -1;
	long count = strtol(argv[*i + 2], NULL, 10);
	if (count < 1 || count > argc - (*i + 3))
		return -1;
	s->argv = calloc((size_t)count + 1, sizeof(char *));
	if (!s->argv)
		return -1;
	for (long k = 0; k < count; k++)
		s->argv[k] = argv[*i + 3 + k];
	*i += 2 + (int)count;
	nspecs++;
	return 0;
}

static void exec_child(const struct child_spec *s, pid_t parent)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent)
		_exit(127);
	for (int k = 0; k < s->nfds; k++)
		if (fcntl(s->fds[k], F_DUPFD, PARK_FD + k) != PARK_FD + k)
			_exit(127);
	for (int k = 0; k < s->nfds; k++)
		if (dup2(PARK_FD + k, k) != k)
			_exit(127);
	/* fds 0..nfds-1 are ours; every other descriptor of the server goes
	 * (it holds a handful: the parked ones are the highest) */
#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)s->nfds, ~0U, 0) < 0)
#endif
		for (int fd = s->nfds; fd < PARK_FD + MAX_CHILD_FDS; fd++)
			close(fd);
	for (int k = 0; k < s->nfds; k++)
		fcntl(k, F_SETFD, 0);
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL); /* SIGKILL, SIGSTOP and the libc-internal ones refuse: fine */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execv(s->argv[0], s->argv);
	_exit(127);
}

void fsop_start_children(void)
{
	if (nspecs == 0)
		return;
	pid_t self = getpid();
	uint32_t pids[1 + sizeof(specs) / sizeof(specs[0])];
	pids[0] = (uint32_t)nspecs;
	for (int n = 0; n < nspecs; n++) {
		pid_t pid = fork();
		if (pid == 0)
			exec_child(&specs[n], self);
		pids[1 + n] = pid > 0 ? (uint32_t)pid : 0;
	}
	/* the children hold their ends now; ours would keep them open */
	for (int n = 0; n < nspecs; n++)
		for (int k = 0; k < specs[n].nfds; k++)
			close(specs[n].fds[k]);
	reply(0, pids, sizeof(uint32_t) * (size_t)(1 + nspecs));
}
