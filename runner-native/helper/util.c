/*
 * Reporting to the TS side, and path resolution confined to a root.
 */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int g_status_fd = -1;
int g_error_fd = -1;
/* Host path of the container root while it is not yet "/": stripped from
 * the paths we report, so the TS side always sees container paths. */
const char *g_root_prefix = "";

static void write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

void status_line(const char *fmt, ...)
{
	char buf[PATH_MAX + 256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || g_status_fd < 0)
		return;
	if ((size_t)n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	write_all(g_status_fd, buf, (size_t)n);
}

void fail(const char *code, const char *fmt, ...)
{
	char msg[PATH_MAX + 128];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (char *p = msg; *p; p++)
		if (*p == '\t' || *p == '\n')
			*p = ' ';
	if (g_error_fd >= 0) {
		/* in the container child: the helper relays it once we are gone */
		char line[sizeof(msg) + 64];
		int n = snprintf(line, sizeof(line), "%s\t%s\n", code, msg);
		write_all(g_error_fd, line, (size_t)n);
		_exit(127);
	}
	status_line("error\t%s\t%s", code, msg);
	exit(1);
}

const char *fd_path(int fd, char *buf, size_t len)
{
	snprintf(buf, len, "/proc/self/fd/%d", fd);
	return buf;
}

/* RESOLVE_IN_ROOT makes "..", absolute symlinks and absolute paths resolve
 * as if rootfd were "/": an image that ships "/etc -> /host/etc" or
 * "a -> ../../.." can never make us mount or create outside its rootfs. */
static int resolve(int rootfd, const char *path)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
}

static int same_mount(int a, int b)
{
	struct statx sa, sb;
	if (statx(a, "", AT_EMPTY_PATH, STATX_MNT_ID, &sa) < 0 ||
	    statx(b, "", AT_EMPTY_PATH, STATX_MNT_ID, &sb) < 0)
		return 0;
	return sa.stx_mnt_id == sb.stx_mnt_id;
}

/* Tell the TS side about a mountpoint we had to create in the image's own
 * filesystem, so the caller can keep it out of the layer diff. */
static void report_created(int fd)
{
	char link[64], target[PATH_MAX];
	ssize_t n = readlink(fd_path(fd, link, sizeof(link)), target, sizeof(target) - 1);
	if (n < 0)
		return;
	target[n] = 0;
	size_t plen = strlen(g_root_prefix);
	const char *inside = target;
	if (plen && !strncmp(target, g_root_prefix, plen))
		inside = target + plen;
	status_line("created\t%s", *inside ? inside : "/");
}

/* The path a dangling symlink at prefix (= its parent dir + name) leads
 * to, with the components after it (rest) appended; the caller resolves
 * it from the root again, so ".." and absolute targets stay inside. */
static int follow_dangling(int parent, const char *name, const char *prefix, const char *rest, char *out, size_t len)
{
	char target[PATH_MAX];
	ssize_t n = readlinkat(parent, name, target, sizeof(target) - 1);
	if (n < 0)
		return -1;
	target[n] = 0;
	int w;
	if (target[0] == '/') {
		w = snprintf(out, len, "%s%s", target, rest);
	} else {
		const char *slash = strrchr(prefix, '/');
		w = snprintf(out, len, "%.*s/%s%s", (int)(slash - prefix), prefix, target, rest);
	}
	if (w < 0 || (size_t)w >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static int open_in_root_depth(int rootfd, const char *path, int create_kind, int report, int links);

int open_in_root(int rootfd, const char *path, int create_kind, int report)
{
	return open_in_root_depth(rootfd, path, create_kind, report, 0);
}

static int open_in_root_depth(int rootfd, const char *path, int create_kind, int report, int links)
{
	int fd = resolve(rootfd, path);
	if (fd >= 0 || errno != ENOENT || create_kind == CREATE_NONE)
		return fd;

	/* Walk component by component, creating what is missing; each prefix
	 * is resolved again from the root so symlinks stay confined. */
	char prefix[PATH_MAX] = "";
	size_t plen = 0;
	int parent = resolve(rootfd, "/");
	const char *p = path;
	while (parent >= 0 && *p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *end = strchrnul(p, '/');
		size_t clen = (size_t)(end - p);
		if (plen + clen + 2 > sizeof(prefix) || clen > NAME_MAX) {
			close(parent);
			errno = ENAMETOOLONG;
			return -1;
		}
		char name[NAME_MAX + 1];
		memcpy(name, p, clen);
		name[clen] = 0;
		prefix[plen++] = '/';
		memcpy(prefix + plen, p, clen);
		plen += clen;
		prefix[plen] = 0;
		const char *rest = end;
		while (*rest == '/')
			rest++;
		int last = !*rest;

		int next = resolve(rootfd, prefix);
		struct stat lst;
		if (next < 0 && errno == ENOENT && fstatat(parent, name, &lst, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(lst.st_mode)) {
			/* A symlink whose target is missing (an image's "/data ->
			 * /srv/data" before /srv/data exists): create where it
			 * points, inside the root, as Docker does, rather than fail
			 * on the link itself. */
			char followed[PATH_MAX];
			if (++links > 40) {
				errno = ELOOP;
				goto fail;
			}
			if (follow_dangling(parent, name, prefix, end, followed, sizeof(followed)) < 0)
				goto fail;
			close(parent);
			return open_in_root_depth(rootfd, followed, create_kind, report, links);
		}
		if (next < 0 && errno == ENOENT) {
			if (last && create_kind == CREATE_FILE) {
				int w = openat(parent, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
				if (w < 0)
					goto fail;
				close(w);
			} else if (mkdirat(parent, name, 0755) < 0) {
				goto fail;
			}
			next = resolve(rootfd, prefix);
			if (next >= 0 && report && same_mount(parent, rootfd))
				report_created(next);
		}
		close(parent);
		parent = next;
		p = end;
	}
	return parent;
fail:;
	int saved = errno;
	close(parent);
	errno = saved;
	return -1;
}

int open_parent_in_root(int rootfd, const char *path, const char **basename_out)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	if (!slash || !slash[1] || (size_t)(slash - path) >= sizeof(dir)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = 0;
	*basename_out = slash + 1;
	return open_in_root(rootfd, dir[0] ? dir : "/", CREATE_DIR, 1);
}
