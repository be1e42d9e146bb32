/*
 * tsbuild-sandbox: the small launcher that turns a pre-digested sandbox
 * spec (written by runner-native/helper-config.ts) into a running process
 * inside new Linux namespaces.  See runner-native/README.md for the design.
 */
#ifndef TSBUILD_SANDBOX_H
#define TSBUILD_SANDBOX_H

#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct mount_op {
	char *destination;
	char *type;        /* "bind" or a filesystem type */
	char *source;
	char *data;        /* filesystem-specific options, already comma-joined */
	unsigned long flags;       /* MS_* flags, computed by the TS side */
	unsigned long propagation; /* MS_PRIVATE / MS_SLAVE / ... or 0 */
};

struct device_op {
	char *path;
	char kind; /* 'c' or 'b' */
	unsigned int major, minor;
	mode_t mode;
	uid_t uid;
	gid_t gid;
};

struct symlink_op {
	char *target;
	char *path;
};

struct rlimit_op {
	int resource;
	uint64_t soft, hard;
};

/* One cgroup device rule (cgroup v2 program; v1 gets the files from TS). */
struct device_rule {
	int allow;
	char type;          /* 'a', 'b' or 'c' */
	long major, minor;  /* -1 = any */
	char *access;       /* subset of "rwm" */
};

struct seccomp_rule {
	uint32_t action;    /* SCMP_ACT_* value, errno included */
	char *syscall;
	char *args;         /* "index,op,value,valueTwo;..." */
};

struct sysctl_op {
	char *key;   /* dotted: net.ipv4.ip_unprivileged_port_start */
	char *value;
};

struct config {
	pid_t owner_pid;
	char **cgroup_procs; size_t n_cgroup_procs;
	int *cgroup_tasks_fds; /* per cgroup_procs: its v1 `tasks` file, or -1 (cgroup-join.c) */
	int cgroup_clone_fd;   /* the v2 cgroup's directory, for clone3(CLONE_INTO_CGROUP), or -1 */
	size_t cgroup_clone_index; /* its cgroup_procs entry */
	int cgroup_cloned;     /* the child was created in it: no cgroup.procs write */
	int ns_flags; /* CLONE_NEW* */
	char *hostname;
	char *root;
	int root_readonly;
	char *overlay_lower, *overlay_upper, *overlay_work, *overlay_cwd;
	struct mount_op *mounts; size_t n_mounts;
	struct device_op *devices; size_t n_devices;
	struct symlink_op *symlinks; size_t n_symlinks;
	char **masked; size_t n_masked;
	char **readonly; size_t n_readonly;
	struct rlimit_op *rlimits; size_t n_rlimits;
	uid_t uid;
	gid_t gid;
	gid_t *groups; size_t n_groups;
	uint64_t cap_bounding, cap_effective, cap_permitted, cap_inheritable, cap_ambient;
	int no_new_privs;
	char *cwd;
	char **env; size_t n_env;
	char **args; size_t n_args;
	/* confinement: device program, seccomp, a shared network namespace */
	char *devices_bpf_cgroup;  /* cgroup v2 dir to attach the device program to */
	struct device_rule *device_rules; size_t n_device_rules;
	int seccomp;
	uint32_t seccomp_default_action;
	char **seccomp_arches; size_t n_seccomp_arches;
	struct seccomp_rule *seccomp_rules; size_t n_seccomp_rules;
	char *seccomp_cache;       /* dir of compiled filters, by rules (see seccomp.c) */
	char *netns_path;          /* join this network namespace instead of a new one */
	/* `tsbuild exec`: join this running container init's namespaces instead of making new ones */
	pid_t join_pid;
	/* `-t`: a pty as the process's controlling terminal, with this initial size */
	int terminal;
	unsigned term_rows, term_cols;
	struct sysctl_op *sysctls; size_t n_sysctls;
	/* `--init`: PID 1 is a reaper, the command its child */
	int init;
};

/* config.c */
int parse_config(const char *path, struct config *cfg, char *err, size_t errlen);

/* util.c */
extern int g_status_fd; /* lines to the TS side: pid, created, error, exit, signal */
extern int g_error_fd;  /* in the container child: setup errors go to the helper */
extern const char *g_root_prefix;
void status_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fail(const char *code, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
int open_in_root(int rootfd, const char *path, int create_kind, int report);
int open_parent_in_root(int rootfd, const char *path, const char **basename_out);
const char *fd_path(int fd, char *buf, size_t len);
enum { CREATE_NONE = 0, CREATE_DIR = 1, CREATE_FILE = 2 };

/* rootfs.c */
void setup_rootfs(const struct config *cfg);

/* process.c */
void join_network_namespace(const struct config *cfg);
void setup_network(const struct config *cfg);
void finalize_and_exec(const struct config *cfg, int parent_alive_fd) __attribute__((noreturn));

/* fsop.c: `tsbuild-sandbox fsop`, mknod/xattr/mount requests on stdin */
int fsop_main(int argc, char **argv);

/* netns-holder.c: `tsbuild-sandbox netns` */
int netns_holder_main(int argc, char **argv);

/* devices.c */
struct bpf_insn;
size_t device_program(const struct device_rule *rules, size_t n_rules, struct bpf_insn *out);
void attach_device_program(const struct config *cfg);

/* seccomp.c */
void prepare_seccomp(const struct config *cfg);
void load_seccomp(const struct config *cfg);

/* cgroup-join.c */
void open_cgroup_tasks(struct config *c);
void join_cgroups_self(const struct config *c);
pid_t fork_into_cgroup(struct config *c);
void join_cgroups(const struct config *c, pid_t pid);

/* main.c */
void run_child_to_end(const struct config *cfg, pid_t pid, int go_fd, int err_fd, int console_fd);

/* pty.c */
int pty_socketpair(int sv[2]);
void pty_setup_child(const struct config *c, int sock);
void pty_relay(int sock, pid_t child);

/* init.c */
void run_as_init(const struct config *c, int go_fd) __attribute__((noreturn));

/* sysctl.c */
void apply_sysctls(const struct config *c);

/* exec.c */
int exec_main(struct config *c);

/* userns.c: `tsbuild-sandbox userns`, the rootless user-namespace entry */
int userns_main(int argc, char **argv);
int in_user_namespace(void);
const char *overlay_diff_options(void);

#endif
