/*
 * Reads the line-based config written by runner-native/helper-config.ts.
 * One record per line, fields separated by TAB; inside a field "\\", "\t"
 * and "\n" are backslash-escaped.  The TS side did all the JSON and policy
 * work, so this parser only has to split, unescape and convert numbers.
 */
#include "sandbox.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FIELDS 16

static void *grow(void *arr, size_t *n, size_t elem)
{
	char *p = realloc(arr, (*n + 1) * elem);
	if (!p) {
		perror("realloc");
		exit(1);
	}
	memset(p + *n * elem, 0, elem);
	(*n)++;
	return p;
}

#define PUSH(arr, n) ((arr) = grow((arr), &(n), sizeof(*(arr))), &(arr)[(n) - 1])

static void unescape(char *s)
{
	char *out = s;
	for (; *s; s++) {
		if (*s == '\\' && s[1]) {
			s++;
			*out++ = *s == 't' ? '\t' : *s == 'n' ? '\n' : *s;
		} else {
			*out++ = *s;
		}
	}
	*out = 0;
}

static int split(char *line, char **fields)
{
	int n = 0;
	fields[n++] = line;
	for (char *p = line; *p && n < MAX_FIELDS; p++) {
		if (*p == '\t') {
			*p = 0;
			fields[n++] = p + 1;
		}
	}
	for (int i = 0; i < n; i++)
		unescape(fields[i]);
	return n;
}

static uint64_t num(const char *s, int base)
{
	return strtoull(s, NULL, base);
}

static int ns_flag(const char *name)
{
	if (!strcmp(name, "pid")) return CLONE_NEWPID;
	if (!strcmp(name, "mount")) return CLONE_NEWNS;
	if (!strcmp(name, "uts")) return CLONE_NEWUTS;
	if (!strcmp(name, "ipc")) return CLONE_NEWIPC;
	if (!strcmp(name, "network")) return CLONE_NEWNET;
	return 0;
}

/* Returns 0 on success; on failure writes a message into err. */
static int apply(struct config *c, char **f, int n, char *err, size_t errlen)
{
	const char *k = f[0];
#define NEED(count) do { if (n < (count)) goto short_record; } while (0)
	if (!strcmp(k, "version")) {
		NEED(2);
		if (strcmp(f[1], "1")) {
			snprintf(err, errlen, "unsupported config version %s", f[1]);
			return -1;
		}
	} else if (!strcmp(k, "owner_pid")) {
		NEED(2); c->owner_pid = (pid_t)num(f[1], 10);
	} else if (!strcmp(k, "cgroup_procs")) {
		NEED(2); *PUSH(c->cgroup_procs, c->n_cgroup_procs) = f[1];
	} else if (!strcmp(k, "namespace")) {
		NEED(2);
		int flag = ns_flag(f[1]);
		if (!flag) {
			snprintf(err, errlen, "unknown namespace %s", f[1]);
			return -1;
		}
		c->ns_flags |= flag;
	} else if (!strcmp(k, "hostname")) {
		NEED(2); c->hostname = f[1];
	} else if (!strcmp(k, "root")) {
		NEED(3); c->root = f[1]; c->root_readonly = f[2][0] == '1';
	} else if (!strcmp(k, "overlay")) {
		NEED(5);
		c->overlay_lower = f[1]; c->overlay_upper = f[2]; c->overlay_work = f[3];
		c->overlay_cwd = f[4][0] ? f[4] : NULL;
	} else if (!strcmp(k, "mount")) {
		NEED(7);
		struct mount_op *m = PUSH(c->mounts, c->n_mounts);
		m->destination = f[1]; m->type = f[2]; m->source = f[3];
		m->flags = num(f[4], 10); m->propagation = num(f[5], 10); m->data = f[6];
	} else if (!strcmp(k, "device")) {
		NEED(8);
		struct device_op *d = PUSH(c->devices, c->n_devices);
		d->path = f[1]; d->kind = f[2][0];
		d->major = num(f[3], 10); d->minor = num(f[4], 10);
		d->mode = num(f[5], 8); d->uid = num(f[6], 10); d->gid = num(f[7], 10);
	} else if (!strcmp(k, "symlink")) {
		NEED(3);
		struct symlink_op *s = PUSH(c->symlinks, c->n_symlinks);
		s->target = f[1]; s->path = f[2];
	} else if (!strcmp(k, "masked")) {
		NEED(2); *PUSH(c->masked, c->n_masked) = f[1];
	} else if (!strcmp(k, "readonly")) {
		NEED(2); *PUSH(c->readonly, c->n_readonly) = f[1];
	} else if (!strcmp(k, "rlimit")) {
		NEED(4);
		struct rlimit_op *r = PUSH(c->rlimits, c->n_rlimits);
		r->resource = (int)num(f[1], 10); r->soft = num(f[2], 10); r->hard = num(f[3], 10);
	} else if (!strcmp(k, "user")) {
		NEED(3); c->uid = (uid_t)num(f[1], 10); c->gid = (gid_t)num(f[2], 10);
	} else if (!strcmp(k, "group")) {
		NEED(2); *PUSH(c->groups, c->n_groups) = (gid_t)num(f[1], 10);
	} else if (!strcmp(k, "caps")) {
		NEED(6);
		c->cap_bounding = num(f[1], 16); c->cap_effective = num(f[2], 16);
		c->cap_permitted = num(f[3], 16); c->cap_inheritable = num(f[4], 16);
		c->cap_ambient = num(f[5], 16);
	} else if (!strcmp(k, "no_new_privs")) {
		NEED(2); c->no_new_privs = f[1][0] == '1';
	} else if (!strcmp(k, "cwd")) {
		NEED(2); c->cwd = f[1];
	} else if (!strcmp(k, "env")) {
		NEED(2); *PUSH(c->env, c->n_env) = f[1];
	} else if (!strcmp(k, "arg")) {
		NEED(2); *PUSH(c->args, c->n_args) = f[1];
	} else if (!strcmp(k, "devices_bpf")) {
		NEED(2); c->devices_bpf_cgroup = f[1];
	} else if (!strcmp(k, "device_rule")) {
		NEED(6);
		struct device_rule *r = PUSH(c->device_rules, c->n_device_rules);
		r->allow = f[1][0] == '1'; r->type = f[2][0];
		r->major = strtol(f[3], NULL, 10); r->minor = strtol(f[4], NULL, 10); r->access = f[5];
	} else if (!strcmp(k, "seccomp_default")) {
		NEED(2); c->seccomp = 1; c->seccomp_default_action = (uint32_t)num(f[1], 16);
	} else if (!strcmp(k, "seccomp_arch")) {
		NEED(2); *PUSH(c->seccomp_arches, c->n_seccomp_arches) = f[1];
	} else if (!strcmp(k, "seccomp_rule")) {
		NEED(4);
		struct seccomp_rule *r = PUSH(c->seccomp_rules, c->n_seccomp_rules);
		r->action = (uint32_t)num(f[1], 16); r->syscall = f[2]; r->args = f[3];
	} else if (!strcmp(k, "seccomp_cache")) {
		NEED(2); c->seccomp_cache = f[1];
	} else if (!strcmp(k, "netns")) {
		NEED(2); c->netns_path = f[1];
	} else if (!strcmp(k, "join_pid")) {
		NEED(2); c->join_pid = (pid_t)num(f[1], 10);
	} else if (!strcmp(k, "init")) {
		NEED(2); c->init = f[1][0] == '1';
	} else if (!strcmp(k, "sysctl")) {
		NEED(3);
		struct sysctl_op *o = PUSH(c->sysctls, c->n_sysctls);
		o->key = f[1]; o->value = f[2];
	} else if (!strcmp(k, "terminal")) {
		NEED(4); c->terminal = f[1][0] == '1';
		c->term_rows = (unsigned)num(f[2], 10); c->term_cols = (unsigned)num(f[3], 10);
	} else {
		snprintf(err, errlen, "unknown config record %s", k);
		return -1;
	}
	return 0;
short_record:
	snprintf(err, errlen, "config record %s has too few fields", k);
	return -1;
#undef NEED
}

int parse_config(const char *path, struct config *c, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "re");
	if (!fp) {
		snprintf(err, errlen, "open %s: %s", path, strerror(errno));
		return -1;
	}
	memset(c, 0, sizeof(*c));
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	while ((len = getline(&line, &cap, fp)) >= 0) {
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = 0;
		if (len == 0)
			continue;
		char *fields[MAX_FIELDS];
		/* fields point into the line, so every line keeps its own buffer */
		char *owned = strdup(line);
		int n = split(owned, fields);
		if (apply(c, fields, n, err, errlen) < 0) {
			fclose(fp);
			return -1;
		}
	}
	free(line);
	fclose(fp);
	if ((!c->root && !c->join_pid) || c->n_args == 0) {
		snprintf(err, errlen, "config needs a root and at least one arg");
		return -1;
	}
	/* execve wants NULL-terminated vectors */
	*PUSH(c->args, c->n_args) = NULL; c->n_args--;
	*PUSH(c->env, c->n_env) = NULL; c->n_env--;
	return 0;
}
