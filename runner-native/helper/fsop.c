/*
 * tsbuild-sandbox fsop [--private-mounts] [--owner PID] [--child FDS COUNT PATH ARG...]...
 *
 * A long-lived server for the filesystem basics Node has no API for:
 * device nodes (mknod), extended attributes and mounts.  One process
 * serves a whole build: tsbuild writes request frames on our stdin and
 * reads one reply per request, in order, from our stdout, so many
 * operations can be in flight without a process per file (as GNU tar,
 * getfattr/setfattr and mount(8) used to cost).
 *
 * Frames (little-endian):
 *   request  u32 length | u8 op | fields, each u32 length + bytes
 *   reply    u32 length | i32 errno (0 = ok) | payload (or a message)
 *
 * Every path is a (root, relative path) pair: the root is opened as given
 * (tsbuild's own directories) and the relative part is resolved with
 * openat2(RESOLVE_IN_ROOT), so a symlink inside an image or an archive
 * can never send a node, an xattr or a mount outside that root (runc and
 * containerd work the same way).
 *
 * --private-mounts: the server first enters a mount namespace of its own
 * (a slave of the host's), so the overlays it mounts are visible only
 * through /proc/<pid>/root and vanish when it dies.  With PDEATHSIG,
 * tsbuild killed by SIGKILL leaves no mount behind on the host.
 *
 * --child: a process to start for tsbuild first (fsop-children.c); the
 * first reply, before any request's, gives their pids.
 */
#include "fsop.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int buf_put(struct buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n)
			cap *= 2;
		char *d = realloc(b->data, cap);
		if (!d)
			return -1;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int buf_put_field(struct buf *b, const void *p, uint32_t n)
{
	return buf_put(b, &n, 4) < 0 ? -1 : buf_put(b, p, n);
}

static int read_full(int fd, void *p, size_t n)
{
	char *c = p;
	while (n > 0) {
		ssize_t r = read(fd, c, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

static int write_full(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

void reply(int32_t err, const void *payload, size_t len)
{
	uint32_t total = (uint32_t)(4 + len);
	char head[8];
	memcpy(head, &total, 4);
	memcpy(head + 4, &err, 4);
	/* tsbuild gone: nothing left to serve */
	if (write_full(1, head, 8) < 0 || write_full(1, payload, len) < 0)
		_exit(0);
}

void reply_error(int err, const char *what)
{
	char msg[256];
	int n = snprintf(msg, sizeof(msg), "%s: %s", what, strerror(err));
	reply(err ? err : EIO, msg, n > 0 ? (size_t)n : 0);
}

uint32_t u32_of(const struct field *f)
{
	uint32_t v = 0;
	if (f->len == 4)
		memcpy(&v, f->data, 4);
	return v;
}

/* The relative path resolved inside root, as an O_PATH fd. */
int open_beneath(int rootfd, const char *rel)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC | O_NOFOLLOW,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	return (int)syscall(SYS_openat2, rootfd, *rel ? rel : ".", &how, sizeof(how));
}

/* Splits rel into its parent (resolved in root, followed) and last name.
 * An empty rel, ".", or a last name of ".." has no parent to speak of:
 * the caller then works on the resolved directory itself, named ".". */
int open_parent(int rootfd, const char *rel, char *name, size_t namelen)
{
	char dir[PATH_MAX];
	size_t len = strlen(rel);
	while (len > 0 && rel[len - 1] == '/')
		len--;
	if (len >= sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dir, rel, len);
	dir[len] = 0;
	char *slash = strrchr(dir, '/');
	const char *base = slash ? slash + 1 : dir;
	if (!*base || !strcmp(base, ".") || !strcmp(base, "..")) {
		snprintf(name, namelen, ".");
		struct open_how how = { .flags = O_PATH | O_CLOEXEC | O_DIRECTORY, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
		return (int)syscall(SYS_openat2, rootfd, *dir ? dir : ".", &how, sizeof(how));
	}
	if (strlen(base) >= namelen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	snprintf(name, namelen, "%s", base);
	if (slash)
		*slash = 0;
	struct open_how how = { .flags = O_PATH | O_CLOEXEC | O_DIRECTORY, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	return (int)syscall(SYS_openat2, rootfd, slash && *dir ? dir : ".", &how, sizeof(how));
}

int open_root(const char *path)
{
	return open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

static int parse_fields(char *body, uint32_t len, struct field *f)
{
	int n = 0;
	uint32_t pos = 0;
	while (pos < len) {
		uint32_t flen;
		if (n == MAX_FIELDS || len - pos < 4)
			return -1;
		memcpy(&flen, body + pos, 4);
		pos += 4;
		if (flen > len - pos)
			return -1;
		f[n].data = malloc(flen + 1);
		if (!f[n].data)
			return -1;
		memcpy(f[n].data, body + pos, flen);
		f[n].data[flen] = 0;
		/* a path or name with a NUL inside would be cut short: refuse it */
		f[n].len = flen;
		pos += flen;
		n++;
	}
	return n;
}

static int has_inner_nul(const struct field *f)
{
	return strlen(f->data) != f->len;
}

static void serve_one_op(uint8_t op, struct field *f, int n)
{
	/* Paths and names are C strings; only values may hold any byte. */
	int strings = op == OP_SETXATTR || op == OP_REMOVEXATTR ? 3 : op == OP_MOUNT ? 5 : op == OP_XATTR_TREE ? 1 : 2;
	for (int i = 0; i < n && i < strings; i++)
		if (has_inner_nul(&f[i]))
			return reply_error(EINVAL, "NUL byte in a path or name");
	switch (op) {
	case OP_MKNOD: return op_mknod(f, n);
	case OP_SETXATTR: return op_setxattr(f, n);
	case OP_GETXATTR: return op_getxattr(f, n);
	case OP_REMOVEXATTR: return op_removexattr(f, n);
	case OP_XATTR_TREE: return op_xattr_tree(f, n);
	case OP_MOUNT: return op_mount(f, n);
	case OP_UMOUNT: return op_umount(f, n);
	default: return reply_error(ENOSYS, "unknown operation");
	}
}

static void serve_one(uint8_t op, struct field *f, int n)
{
	serve_one_op(op, f, n);
	/* Never stay inside a tree we worked in: our cwd would keep a mount
	 * there busy (and its directory alive) after the request. */
	if (chdir("/") < 0)
		_exit(3);
}

int fsop_main(int argc, char **argv)
{
	int private_mounts = 0;
	pid_t owner = 0;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--private-mounts"))
			private_mounts = 1;
		else if (!strcmp(argv[i], "--owner") && i + 1 < argc)
			owner = (pid_t)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--child") && fsop_child_arg(argc, argv, &i) == 0)
			continue;
		else {
			fprintf(stderr, "usage: %s fsop [--private-mounts] [--owner PID] [--child FD,FD... COUNT PATH ARG...]...\n", argv[0]);
			return 2;
		}
	}
	/* tsbuild killed (even kill -9): we die, and with us our mount
	 * namespace and every overlay in it. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		return 1;
	/* tsbuild may have died before PDEATHSIG was armed */
	if (owner && getppid() != owner)
		return 1;
	/* Before anything of ours changes (umask, mount namespace, SIGPIPE):
	 * the children start as tsbuild's own would (fsop-children.c). */
	fsop_start_children();
	/* Exact modes for created nodes, whatever tsbuild's umask. */
	umask(0);
	if (private_mounts) {
		if (unshare(CLONE_NEWNS) < 0) {
			fprintf(stderr, "fsop: unshare mount namespace: %s\n", strerror(errno));
			return 1;
		}
		/* Slave, not private: host unmounts still reach us (we never pin
		 * a host filesystem), and our mounts never reach the host. */
		if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0) {
			fprintf(stderr, "fsop: make / rslave: %s\n", strerror(errno));
			return 1;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		uint32_t len;
		if (read_full(0, &len, 4) < 0)
			return 0; /* tsbuild closed the channel: done */
		if (len < 1 || len > MAX_FRAME)
			return 3;
		char *body = malloc(len);
		if (!body || read_full(0, body, len) < 0)
			return 3;
		struct field f[MAX_FIELDS] = { 0 };
		int n = parse_fields(body + 1, len - 1, f);
		if (n < 0)
			reply_error(EINVAL, "malformed request");
		else
			serve_one((uint8_t)body[0], f, n);
		for (int i = 0; i < MAX_FIELDS; i++)
			free(f[i].data);
		free(body);
	}
}
