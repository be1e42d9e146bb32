/*
 * The fsop server (fsop.c: framing, resolution, the request loop) and its
 * operations (fsop-ops.c: nodes, xattrs, mounts).
 */
#ifndef TSBUILD_FSOP_H
#define TSBUILD_FSOP_H

#include "sandbox.h"

enum {
	OP_MKNOD = 1,      /* root rel u32:mode(with S_IF* type) u32:major u32:minor u32:uid u32:gid */
	OP_SETXATTR = 2,   /* root rel name value */
	OP_GETXATTR = 3,   /* root rel name  -> value */
	OP_XATTR_TREE = 4, /* root -> records (u32 len + rel, u32 len + name, u32 len + value)... */
	OP_MOUNT = 5,      /* root rel fstype source data u32:flags */
	OP_UMOUNT = 6,     /* root rel u32:flags */
	OP_REMOVEXATTR = 7, /* root rel name (absent: not an error) */
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

/* fsop.c */
int buf_put_field(struct buf *b, const void *p, uint32_t n);
void reply(int32_t err, const void *payload, size_t len);
void reply_error(int err, const char *what);
uint32_t u32_of(const struct field *f);
int open_beneath(int rootfd, const char *rel);
int open_parent(int rootfd, const char *rel, char *name, size_t namelen);
int open_root(const char *path);

/* fsop-children.c: processes started for tsbuild before we serve */
int fsop_child_arg(int argc, char **argv, int *i);
void fsop_start_children(void);

/* fsop-ops.c: each answers its request with exactly one reply */
void op_mknod(struct field *f, int n);
void op_setxattr(struct field *f, int n);
void op_getxattr(struct field *f, int n);
void op_removexattr(struct field *f, int n);
void op_xattr_tree(struct field *f, int n);
void op_mount(struct field *f, int n);
void op_umount(struct field *f, int n);

#endif
