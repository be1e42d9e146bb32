/*
 * `tsbuild-sandbox netns`: holds a fresh network namespace (with its lo
 * up) for as long as its stdin stays open, so sandboxes can join it
 * through /proc/<pid>/ns/net (runner-native/network-pool.ts). It prints
 * "ready" once the namespace exists. When tsbuild exits or is killed, the
 * pipe closes (or PDEATHSIG fires) and the namespace goes with us.
 */
#include "sandbox.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int netns_holder_main(void)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "netns: %s\n", strerror(errno));
		return 1;
	}
	/* setup_network brings lo up in a namespace of ours */
	struct config c;
	memset(&c, 0, sizeof(c));
	c.ns_flags = CLONE_NEWNET;
	setup_network(&c);
	if (write(STDOUT_FILENO, "ready\n", 6) != 6)
		return 1;
	char buf[64];
	while (read(STDIN_FILENO, buf, sizeof(buf)) > 0)
		;
	return 0;
}
