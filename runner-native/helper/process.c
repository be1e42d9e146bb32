/*
 * The last steps in the container child, after the filesystem is ready:
 * hostname, loopback, rlimits, cwd, capabilities, user, fds, execve.
 */
#include "sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* A network namespace prepared by the TS side (with its outbound link
 * already attached), which RUN steps lease one after the other
 * (runner-native/network-pool.ts). */
void join_network_namespace(const struct config *c)
{
	if (!c->netns_path)
		return;
	int fd = open(c->netns_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fail("setup", "open network namespace %s: %s", c->netns_path, strerror(errno));
	if (setns(fd, CLONE_NEWNET) < 0)
		fail("setup", "join network namespace %s: %s", c->netns_path, strerror(errno));
	close(fd);
}

void setup_network(const struct config *c)
{
	if ((c->ns_flags & CLONE_NEWUTS) && c->hostname &&
	    sethostname(c->hostname, strlen(c->hostname)) < 0)
		fail("setup", "sethostname: %s", strerror(errno));
	if (!(c->ns_flags & CLONE_NEWNET) && !c->netns_path)
		return;
	/* A new network namespace has only a loopback device, and it is down:
	 * bring it up so localhost works (tests, servers bound to 127.0.0.1). */
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		fail("setup", "socket: %s", strerror(errno));
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		fail("setup", "get lo flags: %s", strerror(errno));
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		fail("setup", "bring lo up: %s", strerror(errno));
	close(s);
}

static void apply_rlimits(const struct config *c)
{
	for (size_t i = 0; i < c->n_rlimits; i++) {
		struct rlimit rl = { .rlim_cur = c->rlimits[i].soft, .rlim_max = c->rlimits[i].hard };
		if (setrlimit(c->rlimits[i].resource, &rl) < 0)
			fail("setup", "setrlimit %d: %s", c->rlimits[i].resource, strerror(errno));
	}
}

/* Like Docker, a missing working directory is created (owned by root). */
static void enter_cwd(const struct config *c)
{
	const char *cwd = c->cwd && c->cwd[0] ? c->cwd : "/";
	int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	int fd = rootfd < 0 ? -1 : open_in_root(rootfd, cwd, CREATE_DIR, 1);
	if (fd < 0 || fchdir(fd) < 0)
		fail("setup", "working directory %s: %s", cwd, strerror(errno));
	close(fd);
	close(rootfd);
}

static void set_caps_and_user(const struct config *c)
{
	/* The bounding set caps what any later execve (setuid binaries, file
	 * capabilities) can ever regain; dropping needs CAP_SETPCAP, which we
	 * still have, so it comes first. */
	for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++) {
		if (cap < 64 && (c->cap_bounding >> cap) & 1)
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			fail("setup", "drop bounding cap %d: %s", cap, strerror(errno));
	}
	/* Keep the permitted set across setuid(non-zero), so capset below can
	 * still grant what the spec asks for to a non-root user. */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		fail("setup", "keepcaps: %s", strerror(errno));
	/* setgroups always, even to an empty list: tsbuild's own supplementary
	 * groups must not leak into the container. */
	if (setgroups(c->n_groups, c->groups) < 0)
		fail("setup", "setgroups: %s", strerror(errno));
	if (setresgid(c->gid, c->gid, c->gid) < 0)
		fail("setup", "setgid %u: %s", (unsigned)c->gid, strerror(errno));
	if (setresuid(c->uid, c->uid, c->uid) < 0)
		fail("setup", "setuid %u: %s", (unsigned)c->uid, strerror(errno));

	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2];
	for (int i = 0; i < 2; i++) {
		data[i].effective = (uint32_t)(c->cap_effective >> (32 * i));
		data[i].permitted = (uint32_t)(c->cap_permitted >> (32 * i));
		data[i].inheritable = (uint32_t)(c->cap_inheritable >> (32 * i));
	}
	if (syscall(SYS_capset, &hdr, data) < 0)
		fail("setup", "capset: %s", strerror(errno));
	/* Ambient caps survive execve of ordinary binaries for non-root users. */
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	for (int cap = 0; cap < 64; cap++)
		if ((c->cap_ambient >> cap) & 1 &&
		    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
			fail("setup", "raise ambient cap %d: %s", cap, strerror(errno));
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);

	/* no_new_privs: setuid binaries and file caps can no longer raise
	 * privileges on execve. */
	if (c->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fail("setup", "no_new_privs: %s", strerror(errno));
}

/* The kernel clears the parent-death signal when our uid/gid change, so
 * arm it again, then make sure the helper did not die in the meantime
 * (its end of the pipe stays open for as long as it lives). */
static void rearm_parent_death(int parent_alive_fd)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		fail("setup", "pdeathsig: %s", strerror(errno));
	struct pollfd p = { .fd = parent_alive_fd, .events = POLLIN };
	if (poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR)))
		_exit(127);
}

static const char *env_path(const struct config *c)
{
	for (size_t i = 0; i < c->n_env; i++)
		if (!strncmp(c->env[i], "PATH=", 5))
			return c->env[i] + 5;
	return "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
}

/* Like runc (and a shell), a bare command name is looked up in the PATH
 * of the container's environment, inside the new root, as the new user. */
static const char *find_executable(const struct config *c, char *buf, size_t len)
{
	const char *name = c->args[0];
	if (strchr(name, '/'))
		return name;
	const char *path = env_path(c);
	while (*path) {
		const char *end = strchrnul(path, ':');
		int dlen = (int)(end - path);
		snprintf(buf, len, "%.*s/%s", dlen, dlen ? path : ".", name);
		struct stat st;
		if (stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0)
			return buf;
		path = *end ? end + 1 : end;
	}
	fail("exec_not_found", "exec: \"%s\": executable file not found in $PATH", name);
}

/* Any host fd that reached us (Node's pipes, the config file, a
 * directory) would be a way out of the sandbox via fchdir/openat; mark
 * all of them close-on-exec so only stdin/stdout/stderr survive. */
static void close_other_fds(void)
{
	if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		fail("setup", "list fds: %s", strerror(errno));
	struct dirent *e;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);
		if (fd > 2 && fd != dirfd(d))
			fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	closedir(d);
}

void finalize_and_exec(const struct config *c, int parent_alive_fd)
{
	apply_rlimits(c);
	enter_cwd(c);
	/* Loading a filter needs CAP_SYS_ADMIN or no_new_privs (runc's order):
	 * without no_new_privs it goes in while we still hold every cap, so
	 * the filter must allow the few calls left (setuid, capset, execve,
	 * as moby's does); with it, as late as possible. */
	if (!c->no_new_privs)
		load_seccomp(c);
	set_caps_and_user(c);
	if (c->no_new_privs)
		load_seccomp(c);
	rearm_parent_death(parent_alive_fd);
	char buf[PATH_MAX];
	const char *path = find_executable(c, buf, sizeof(buf));
	close_other_fds();
	execve(path, c->args, c->env);
	fail(errno == ENOENT ? "exec_not_found" : "exec", "exec %s: %s", path, strerror(errno));
}
