/*
 * The operations of `tsbuild-sandbox fsop` (see fsop.c for the protocol):
 * device nodes, extended attributes and mounts, each confined to its root.
 */
#include "fsop.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

void op_mknod(struct field *f, int n)
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

void op_setxattr(struct field *f, int n)
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

void op_removexattr(struct field *f, int n)
{
	char name[NAME_MAX + 1];
	if (n != 3)
		return reply_error(EINVAL, "removexattr: bad request");
	if (enter_parent(f, name, sizeof(name)) < 0)
		return reply_error(errno, "removexattr: resolve");
	if (lremovexattr(name, f[2].data) < 0 && errno != ENODATA)
		return reply_error(errno, "removexattr");
	reply(0, "", 0);
}

void op_getxattr(struct field *f, int n)
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

void op_xattr_tree(struct field *f, int n)
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

void op_mount(struct field *f, int n)
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

void op_umount(struct field *f, int n)
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

