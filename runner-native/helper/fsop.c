/*
 * tsbuild-sandbox fsop [--private-mounts] [--owner PID]
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
 */
#include "sandbox.h"

#include <errno.h>
#include <dirent.h>
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
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

enum {
	OP_MKNOD = 1,      /* root rel u32:mode(with S_IF* type) u32:major u32:minor u32:uid u32:gid */
	OP_SETXATTR = 2,   /* root rel name value */
	OP_GETXATTR = 3,   /* root rel name  -> value */
	OP_XATTR_TREE = 4, /* root -> records (u32 len + rel, u32 len + name, u32 len + value)... */
	OP_MOUNT = 5,      /* root rel fstype source data u32:flags */
	OP_UMOUNT = 6,     /* root rel u32:flags */
};

#define MAX_FRAME (64u << 20)
#define MAX_FIELDS 8

struct field {
	char *data; /* NUL-terminated copy */
	uint32_t len;
};

struct buf {
	char *data;
	size_t len, cap;
};

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

static int buf_put_field(struct buf *b, const void *p, uint32_t n)
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

static void reply(int32_t err, const void *payload, size_t len)
{
	uint32_t total = (uint32_t)(4 + len);
	char head[8];
	memcpy(head, &total, 4);
	memcpy(head + 4, &err, 4);
	/* tsbuild gone: nothing left to serve */
	if (write_full(1, head, 8) < 0 || write_full(1, payload, len) < 0)
		_exit(0);
}

static void reply_error(int err, const char *what)
{
	char msg[256];
	int n = snprintf(msg, sizeof(msg), "%s: %s", what, strerror(err));
	reply(err ? err : EIO, msg, n > 0 ? (size_t)n : 0);
}

static uint32_t u32_of(const struct field *f)
{
	uint32_t v = 0;
	if (f->len == 4)
		memcpy(&v, f->data, 4);
	return v;
}

/* The relative path resolved inside root, as an O_PATH fd. */
static int open_beneath(int rootfd, const char *rel)
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
static int open_parent(int rootfd, const char *rel, char *name, size_t namelen)
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

static int open_root(const char *path)
{
	return open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

static void op_mknod(struct field *f, int n)
{
	if (n != 7)
		return reply_error(EINVAL, "mknod: bad request");
	int rootfd = open_root(f[0].data);
	if (rootfd < 0)
		return reply_error(errno, "mknod: open root");
	char name[NAME_MAX + 1];
	int dirfd = open_parent(rootfd, f[1].data, name, sizeof(name));
	close(rootfd);
	if (dirfd < 0)
		return reply_error(errno, "mknod: parent");
	mode_t mode = (mode_t)u32_of(&f[2]);
	dev_t dev = makedev(u32_of(&f[3]), u32_of(&f[4]));
	int rc = mknodat(dirfd, name, mode, dev);
	/* mknod ignores the setuid/setgid/sticky bits on some filesystems
	 * and the umask applies: set the exact mode, then the owner (which
	 * clears setuid bits, so the mode goes again afterwards). */
	if (rc == 0)
		rc = fchownat(dirfd, name, u32_of(&f[5]), u32_of(&f[6]), AT_SYMLINK_NOFOLLOW);
	if (rc == 0)
		rc = fchmodat(dirfd, name, mode & 07777, 0);
	int saved = errno;
	close(dirfd);
	if (rc < 0)
		return reply_error(saved, "mknod");
	reply(0, "", 0);
}

/* The l*xattr calls take a path, not an fd (O_PATH fds refuse f*xattr),
 * so we stand in the resolved parent and name a single component: no
 * symlink is followed, not even the last one. */
static int enter_parent(struct field *f, char *name, size_t namelen)
{
	int rootfd = open_root(f[0].data);
	if (rootfd < 0)
		return -1;
	int dirfd = open_parent(rootfd, f[1].data, name, namelen);
	int saved = errno;
	close(rootfd);
	if (dirfd < 0) {
		errno = saved;
		return -1;
	}
	int rc = fchdir(dirfd);
	saved = errno;
	close(dirfd);
	errno = saved;
	return rc;
}

static void op_setxattr(struct field *f, int n)
{
	char name[NAME_MAX + 1];
	if (n != 4)
		return reply_error(EINVAL, "setxattr: bad request");
	if (enter_parent(f, name, sizeof(name)) < 0)
		return reply_error(errno, "setxattr: resolve");
	if (lsetxattr(name, f[2].data, f[3].data, f[3].len, 0) < 0)
		return reply_error(errno, "setxattr");
	reply(0, "", 0);
}

static void op_getxattr(struct field *f, int n)
{
	char name[NAME_MAX + 1];
	if (n != 3)
		return reply_error(EINVAL, "getxattr: bad request");
	if (enter_parent(f, name, sizeof(name)) < 0)
		return reply_error(errno, "getxattr: resolve");
	char value[XATTR_SIZE_MAX];
	ssize_t len = lgetxattr(name, f[2].data, value, sizeof(value));
	if (len < 0)
		return reply_error(errno, "getxattr");
	reply(0, value, (size_t)len);
}

/* Appends every xattr of `name` (in the current directory) to out. */
static int dump_xattrs(const char *name, const char *rel, struct buf *out)
{
	static char names[XATTR_LIST_MAX], value[XATTR_SIZE_MAX];
	ssize_t len = llistxattr(name, names, sizeof(names));
	if (len < 0)
		return errno == ENOTSUP || errno == ENOENT ? 0 : -1;
	for (ssize_t i = 0; i < len; i += (ssize_t)strlen(names + i) + 1) {
		ssize_t vlen = lgetxattr(name, names + i, value, sizeof(value));
		if (vlen < 0) {
			if (errno == ENODATA || errno == EPERM || errno == EACCES)
				continue;
			return -1;
		}
		if (buf_put_field(out, rel, (uint32_t)strlen(rel)) < 0 ||
		    buf_put_field(out, names + i, (uint32_t)strlen(names + i)) < 0 ||
		    buf_put_field(out, value, (uint32_t)vlen) < 0)
			return -1;
	}
	return 0;
}

/* Depth-first over a directory fd; rel is the path of dirfd from the
 * root ("" for the root).  Directories are opened O_NOFOLLOW, so a
 * symlink is listed, never entered. */
static int walk_xattrs(int dirfd, char *rel, size_t rlen, struct buf *out)
{
	int listfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (listfd < 0)
		return -1;
	DIR *d = fdopendir(listfd);
	if (!d) {
		close(listfd);
		return -1;
	}
	int rc = 0;
	struct dirent *e;
	while (rc == 0 && (errno = 0, e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		size_t nlen = strlen(e->d_name);
		if (rlen + nlen + 2 > PATH_MAX) {
			errno = ENAMETOOLONG;
			rc = -1;
			break;
		}
		size_t child_len = rlen;
		if (rlen)
			rel[child_len++] = '/';
		memcpy(rel + child_len, e->d_name, nlen + 1);
		child_len += nlen;
		if (fchdir(dirfd) < 0 || dump_xattrs(e->d_name, rel, out) < 0) {
			rc = -1;
			break;
		}
		int is_dir = e->d_type == DT_DIR;
		if (e->d_type == DT_UNKNOWN) {
			struct stat st;
			is_dir = fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
		}
		if (is_dir) {
			int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0 || walk_xattrs(sub, rel, child_len, out) < 0)
				rc = -1;
			if (sub >= 0)
				close(sub);
		}
		rel[rlen] = 0;
	}
	if (rc == 0 && errno != 0)
		rc = -1;
	int saved = errno;
	closedir(d);
	errno = saved;
	return rc;
}

static void op_xattr_tree(struct field *f, int n)
{
	if (n != 1)
		return reply_error(EINVAL, "xattr tree: bad request");
	int rootfd = open(f[0].data, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return reply_error(errno, "xattr tree: open root");
	struct buf out = { 0 };
	char rel[PATH_MAX] = "";
	int rc = fchdir(rootfd) < 0 || dump_xattrs(".", "", &out) < 0 ? -1 : walk_xattrs(rootfd, rel, 0, &out);
	int saved = errno;
	close(rootfd);
	if (rc < 0)
		reply_error(saved, "xattr tree");
	else
		reply(0, out.data ? out.data : "", out.len);
	free(out.data);
}

static void op_mount(struct field *f, int n)
{
	if (n != 6)
		return reply_error(EINVAL, "mount: bad request");
	int rootfd = open_root(f[0].data);
	if (rootfd < 0)
		return reply_error(errno, "mount: open root");
	int target = open_beneath(rootfd, f[1].data);
	int saved = errno;
	close(rootfd);
	if (target < 0)
		return reply_error(saved, "mount: target");
	/* Mounting on /proc/self/fd/N mounts on exactly the directory we
	 * resolved, even if the path is swapped for a symlink meanwhile. */
	char path[64];
	int rc = mount(f[3].data, fd_path(target, path, sizeof(path)), f[2].data, u32_of(&f[5]), f[4].len ? f[4].data : NULL);
	saved = errno;
	close(target);
	if (rc < 0)
		return reply_error(saved, "mount");
	reply(0, "", 0);
}

static void op_umount(struct field *f, int n)
{
	char name[NAME_MAX + 1];
	if (n != 3)
		return reply_error(EINVAL, "umount: bad request");
	/* By name from inside the parent: an fd on the mount's root would
	 * itself keep the mount busy. */
	if (enter_parent(f, name, sizeof(name)) < 0)
		return reply_error(errno, "umount: resolve");
	if (umount2(name, (int)u32_of(&f[2]) | UMOUNT_NOFOLLOW) < 0)
		return reply_error(errno, "umount");
	reply(0, "", 0);
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
	int strings = op == OP_SETXATTR ? 3 : op == OP_MOUNT ? 5 : op == OP_XATTR_TREE ? 1 : 2;
	for (int i = 0; i < n && i < strings; i++)
		if (has_inner_nul(&f[i]))
			return reply_error(EINVAL, "NUL byte in a path or name");
	switch (op) {
	case OP_MKNOD: return op_mknod(f, n);
	case OP_SETXATTR: return op_setxattr(f, n);
	case OP_GETXATTR: return op_getxattr(f, n);
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
		else {
			fprintf(stderr, "usage: %s fsop [--private-mounts] [--owner PID]\n", argv[0]);
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
