/*
 * Namespaced sysctls (OCI linux.sysctl), written by the container child
 * right after it made its namespaces and before its root changes: the
 * host's /proc/sys/net and /proc/sys/kernel (IPC keys) already show this
 * task's new network and IPC namespaces, so the host's own values are
 * never touched, and the container's /proc/sys stays read-only.
 * Docker sets net.ipv4.ip_unprivileged_port_start=0 this way, so a
 * non-root process can serve on port 80 inside its own network namespace.
 */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void apply_sysctls(const struct config *c)
{
	for (size_t i = 0; i < c->n_sysctls; i++) {
		const char *key = c->sysctls[i].key;
		/* the TS side only lets namespaced keys through; never a path */
		if (strstr(key, "..") || strchr(key, '/'))
			fail("setup", "invalid sysctl %s", key);
		char path[512];
		snprintf(path, sizeof(path), "/proc/sys/%s", key);
		for (char *p = path + strlen("/proc/sys/"); *p; p++)
			if (*p == '.')
				*p = '/';
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		const char *value = c->sysctls[i].value;
		if (fd < 0 || write(fd, value, strlen(value)) < 0)
			fail("setup", "sysctl %s=%s: %s", key, value, strerror(errno));
		close(fd);
	}
}
