/*
 * Builds the container's filesystem view inside its own mount namespace:
 * root (overlay or bind), spec mounts, /dev nodes, pivot_root, masked and
 * read-only paths.  Runs in the container child, as root, before the user
 * switch.  Every step says why it is there.
 */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* A bind remount must repeat the restrictive flags the mount already has
 * (nosuid, nodev, noexec, atime policy); the kernel refuses to clear them
 * where they are locked, and silently clearing them elsewhere would widen
 * access.  So read them back and keep them. */
static unsigned long existing_flags(const char *path)
{
	struct statvfs sv;
	if (statvfs(path, &sv) < 0)
		return 0;
	unsigned long f = 0;
	if (sv.f_flag & ST_NOSUID) f |= MS_NOSUID;
	if (sv.f_flag & ST_NODEV) f |= MS_NODEV;
	if (sv.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
	if (sv.f_flag & ST_NOATIME) f |= MS_NOATIME;
	if (sv.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
	if (sv.f_flag & ST_RELATIME) f |= MS_RELATIME;
	if (sv.f_flag & ST_RDONLY) f |= MS_RDONLY;
	return f;
}

static void mount_root(const struct config *c)
{
	/* Our new mount namespace starts as a copy of the host's, and on
	 * systemd hosts "/" is a shared mount: without MS_PRIVATE every mount
	 * below would propagate back into the host (and host mounts into us).
	 * MS_REC applies it to the whole tree. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		fail("setup", "make mounts private: %s", strerror(errno));

	if (c->overlay_lower) {
		/* The overlay lives only in this namespace: when the last process
		 * in it dies (even on kill -9) the kernel unmounts it; nothing is
		 * left for anyone to clean up in the host. */
		char data[8192];
		if (c->overlay_upper[0])
			/* volatile: the kernel would otherwise sync the whole
			 * host filesystem when the namespace's overlay goes away;
			 * the upper dir is read once (into a layer) and never
			 * mounted again. index/xino off: the upper dir is moved
			 * afterwards and must not be tied to this mount. redirect_dir and
			 * metacopy off: the upper dir must be a self-contained diff that
			 * the layer writer can read without the lower layers. */
			snprintf(data, sizeof(data), "lowerdir=%s,upperdir=%s,workdir=%s,volatile,index=off,xino=off,%s",
				 c->overlay_lower, c->overlay_upper, c->overlay_work, overlay_diff_options());
		else
			snprintf(data, sizeof(data), "lowerdir=%s%s", c->overlay_lower, in_user_namespace() ? ",userxattr" : "");
		/* Relative layer paths (chosen by the TS side when the absolute
		 * ones overflow the one-page mount data limit) resolve from here. */
		if (c->overlay_cwd && chdir(c->overlay_cwd) < 0)
			fail("setup", "chdir %s: %s", c->overlay_cwd, strerror(errno));
		if (mount("overlay", c->root, "overlay", 0, data) < 0)
			fail("setup", "mount overlay on %s: %s", c->root, strerror(errno));
	} else {
		/* pivot_root needs the new root to be a mount point of its own. */
		if (mount(c->root, c->root, NULL, MS_BIND | MS_REC, NULL) < 0)
			fail("setup", "bind root %s: %s", c->root, strerror(errno));
	}
}

static void do_mount(int rootfd, const struct mount_op *m)
{
	int is_bind = (m->flags & MS_BIND) != 0;
	int kind = CREATE_DIR;
	if (is_bind) {
		struct stat st;
		if (stat(m->source, &st) < 0)
			fail("setup", "bind source %s: %s", m->source, strerror(errno));
		if (!S_ISDIR(st.st_mode))
			kind = CREATE_FILE;
	}
	int fd = open_in_root(rootfd, m->destination, kind, 1);
	if (fd < 0)
		fail("setup", "mountpoint %s: %s", m->destination, strerror(errno));
	/* Mount through /proc/self/fd: the target is the very inode we
	 * resolved inside the root, not a path that could be swapped for a
	 * symlink between the check and the mount. */
	char target[64];
	fd_path(fd, target, sizeof(target));
	if (is_bind) {
		/* A bind mount ignores every flag but MS_REC on creation; ro,
		 * nosuid, ... only take effect through a remount. */
		if (mount(m->source, target, NULL, m->flags & (MS_BIND | MS_REC), NULL) < 0)
			fail("setup", "bind %s on %s: %s", m->source, m->destination, strerror(errno));
		unsigned long extra = m->flags & ~(MS_BIND | MS_REC);
		if (extra) {
			/* re-resolve: the old fd still points below the new mount */
			int top = open_in_root(rootfd, m->destination, CREATE_NONE, 0);
			char top_path[64];
			fd_path(top, top_path, sizeof(top_path));
			if (top < 0 || mount(NULL, top_path, NULL,
					     MS_BIND | MS_REMOUNT | extra | existing_flags(top_path), NULL) < 0)
				fail("setup", "remount %s: %s", m->destination, strerror(errno));
			close(top);
		}
	} else {
		const char *source = m->source[0] ? m->source : m->type;
		if (mount(source, target, m->type, m->flags, m->data[0] ? m->data : NULL) < 0) {
			/* Rootless in the host's network namespace: a new sysfs is
			 * refused (that namespace is not ours), so the host's /sys
			 * is bound read-only instead, as rootless runc does. */
			if (!(errno == EPERM && !strcmp(m->type, "sysfs") && in_user_namespace() &&
			      mount("/sys", target, NULL, MS_BIND | MS_REC, NULL) == 0))
				fail("setup", "mount %s on %s: %s", m->type, m->destination, strerror(errno));
			int top = open_in_root(rootfd, m->destination, CREATE_NONE, 0);
			char top_path[64];
			fd_path(top, top_path, sizeof(top_path));
			if (top < 0 || mount(NULL, top_path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | existing_flags(top_path), NULL) < 0)
				fail("setup", "remount %s read-only: %s", m->destination, strerror(errno));
			close(top);
		}
	}
	if (m->propagation) {
		int top = open_in_root(rootfd, m->destination, CREATE_NONE, 0);
		char top_path[64];
		fd_path(top, top_path, sizeof(top_path));
		if (top < 0 || mount(NULL, top_path, NULL, m->propagation, NULL) < 0)
			fail("setup", "propagation of %s: %s", m->destination, strerror(errno));
		close(top);
	}
	close(fd);
}

/* A fresh tmpfs /dev holds only the few safe devices we create: the host's
 * disks, /dev/mem, /dev/kmsg etc. are simply not there. */
static void make_device(int rootfd, const struct device_op *d)
{
	const char *name;
	int dir = open_parent_in_root(rootfd, d->path, &name);
	if (dir < 0)
		fail("setup", "device dir for %s: %s", d->path, strerror(errno));
	mode_t type = d->kind == 'b' ? S_IFBLK : S_IFCHR;
	if (mknodat(dir, name, type | (d->mode & 07777), makedev(d->major, d->minor)) < 0) {
		if (errno != EPERM)
			fail("setup", "mknod %s: %s", d->path, strerror(errno));
		/* No CAP_MKNOD (e.g. a user namespace): bind the host's node. */
		int f = openat(dir, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (f < 0)
			fail("setup", "create %s: %s", d->path, strerror(errno));
		char target[64];
		int rc = mount(d->path, fd_path(f, target, sizeof(target)), NULL, MS_BIND, NULL);
		close(f);
		if (rc < 0)
			fail("setup", "bind device %s: %s", d->path, strerror(errno));
	} else {
		/* mknod applied the umask; set the exact mode and owner */
		if (fchmodat(dir, name, d->mode & 07777, 0) < 0 ||
		    fchownat(dir, name, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0)
			fail("setup", "chmod/chown %s: %s", d->path, strerror(errno));
	}
	close(dir);
}

static void make_symlink(int rootfd, const struct symlink_op *s)
{
	const char *name;
	int dir = open_parent_in_root(rootfd, s->path, &name);
	if (dir < 0)
		fail("setup", "symlink dir for %s: %s", s->path, strerror(errno));
	if (symlinkat(s->target, dir, name) < 0 && errno != EEXIST)
		fail("setup", "symlink %s: %s", s->path, strerror(errno));
	close(dir);
}

static void pivot(const char *root)
{
	/* pivot_root, not chroot: chroot only changes this process's idea of
	 * "/" and the host tree stays reachable (a classic escape with
	 * CAP_SYS_CHROOT); pivot_root swaps the namespace's root mount, and
	 * detaching the old one removes the host filesystem from this mount
	 * namespace altogether.  pivot_root(".", ".") stacks the old root on
	 * top of the new one, so unmounting "." removes exactly the old root. */
	if (chdir(root) < 0)
		fail("setup", "chdir %s: %s", root, strerror(errno));
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		fail("setup", "pivot_root: %s", strerror(errno));
	if (umount2(".", MNT_DETACH) < 0)
		fail("setup", "detach old root: %s", strerror(errno));
	if (chdir("/") < 0)
		fail("setup", "chdir /: %s", strerror(errno));
	g_root_prefix = "";
}

/* Docker's masked paths leak host information or offer kernel knobs
 * (/proc/kcore, /proc/keys, /sys/firmware, ...): cover files with
 * /dev/null and directories with an empty read-only tmpfs. */
static void mask_paths(const struct config *c)
{
	for (size_t i = 0; i < c->n_masked; i++) {
		const char *p = c->masked[i];
		struct stat st;
		if (stat(p, &st) < 0) {
			if (errno == ENOENT)
				continue;
			fail("setup", "stat masked %s: %s", p, strerror(errno));
		}
		int rc = S_ISDIR(st.st_mode)
			? mount("tmpfs", p, "tmpfs", MS_RDONLY, NULL)
			: mount("/dev/null", p, NULL, MS_BIND, NULL);
		if (rc < 0)
			fail("setup", "mask %s: %s", p, strerror(errno));
	}
}

/* /proc/sys, /proc/sysrq-trigger, ... are host-wide kernel controls that
 * our (still root) process must not write: bind each over itself and
 * remount that bind read-only. */
static void readonly_paths(const struct config *c)
{
	for (size_t i = 0; i < c->n_readonly; i++) {
		const char *p = c->readonly[i];
		if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0) {
			if (errno == ENOENT)
				continue;
			fail("setup", "bind read-only %s: %s", p, strerror(errno));
		}
		if (mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | existing_flags(p), NULL) < 0)
			fail("setup", "remount read-only %s: %s", p, strerror(errno));
	}
}

void setup_rootfs(const struct config *c)
{
	mount_root(c);
	g_root_prefix = c->root;
	int rootfd = open(c->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		fail("setup", "open root %s: %s", c->root, strerror(errno));
	for (size_t i = 0; i < c->n_mounts; i++)
		do_mount(rootfd, &c->mounts[i]);
	for (size_t i = 0; i < c->n_devices; i++)
		make_device(rootfd, &c->devices[i]);
	for (size_t i = 0; i < c->n_symlinks; i++)
		make_symlink(rootfd, &c->symlinks[i]);
	close(rootfd);
	pivot(c->root);
	/* After the pivot: these paths live in the container's own /proc. */
	mask_paths(c);
	readonly_paths(c);
	if (c->root_readonly &&
	    mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | existing_flags("/"), NULL) < 0)
		fail("setup", "remount / read-only: %s", strerror(errno));
}
