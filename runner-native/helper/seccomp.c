/*
 * The seccomp filter, built with libseccomp from the records the TS side
 * compiled out of a moby-format profile (runner-native/seccomp.ts): the
 * capability and kernel conditions are already resolved there, so here a
 * rule is just "action for syscall NAME when these argument tests hold".
 *
 * libseccomp takes tens of milliseconds to turn moby's ~400 rules for three
 * architectures into BPF, at every RUN and every container start. So the
 * program is prepared once per helper, before any namespace is entered
 * (prepare_seccomp), and kept in the config's cache dir under a hash of
 * its rules: the file holds the exact rule text it was made from, which
 * must match byte for byte before its program is used. load_seccomp then
 * hands the program to the kernel as libseccomp's seccomp_load does
 * (seccomp(2), no flags: no_new_privs, TSYNC and logging stay off).
 */
#include "sandbox.h"

#include <errno.h>
#ifdef NO_LIBSECCOMP
void prepare_seccomp(const struct config *c)
{
	if (c->seccomp)
		fail("setup", "seccomp: this sandbox helper was built without libseccomp (apt-get install libseccomp-dev, then npm run build), so it cannot apply a seccomp profile; --security-opt seccomp=unconfined runs without one");
}

void load_seccomp(const struct config *c)
{
	(void)c;
}
#else
#include <fcntl.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static struct sock_filter *program;
static size_t program_len; /* instructions */

/* "index,op,value,valueTwo;..." -> conditions; returns how many */
static unsigned parse_args(const char *spec, struct scmp_arg_cmp *out, unsigned max)
{
	unsigned n = 0;
	const char *p = spec;
	while (*p && n < max) {
		unsigned idx, op;
		unsigned long long a, b;
		int used = 0;
		if (sscanf(p, "%u,%u,%llu,%llu%n", &idx, &op, &a, &b, &used) != 4)
			fail("config", "bad seccomp argument condition %s", p);
		out[n++] = (struct scmp_arg_cmp){ .arg = idx, .op = (enum scmp_compare)op, .datum_a = a, .datum_b = b };
		p += used;
		if (*p == ';')
			p++;
	}
	return n;
}

/* Everything the program is made from, one record a line (and the
 * libseccomp version, whose output it is). */
static char *rules_text(const struct config *c, size_t *len)
{
	const struct scmp_version *v = seccomp_version();
	size_t cap = 256;
	for (size_t i = 0; i < c->n_seccomp_arches; i++)
		cap += strlen(c->seccomp_arches[i]) + 2;
	for (size_t i = 0; i < c->n_seccomp_rules; i++)
		cap += strlen(c->seccomp_rules[i].syscall) + strlen(c->seccomp_rules[i].args) + 16;
	char *t = malloc(cap);
	if (!t)
		fail("setup", "seccomp: out of memory");
	size_t n = (size_t)snprintf(t, cap, "tsbuild-seccomp 2 libseccomp %u.%u.%u\ndefault %x\n", v->major, v->minor, v->micro, c->seccomp_default_action);
	for (size_t i = 0; i < c->n_seccomp_arches; i++)
		n += (size_t)snprintf(t + n, cap - n, "arch %s\n", c->seccomp_arches[i]);
	for (size_t i = 0; i < c->n_seccomp_rules; i++)
		n += (size_t)snprintf(t + n, cap - n, "rule %x %s %s\n", c->seccomp_rules[i].action, c->seccomp_rules[i].syscall, c->seccomp_rules[i].args);
	*len = n;
	return t;
}

/* 0, or -1 when the path would not fit (then there is no cache) */
static int cache_path(const struct config *c, const char *text, size_t len, char *out, size_t outlen)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a: a file name; the text itself is compared */
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)text[i]) * 1099511628211ULL;
	int n = snprintf(out, outlen, "%s/%016llx.bpf", c->seccomp_cache, (unsigned long long)h);
	return n > 0 && (size_t)n < outlen ? 0 : -1;
}

static int read_all(int fd, char **buf, size_t *len)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size > (16 << 20))
		return -1;
	*buf = malloc((size_t)st.st_size);
	if (!*buf)
		return -1;
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t r = pread(fd, *buf + got, (size_t)st.st_size - got, (off_t)got);
		if (r <= 0) {
			free(*buf);
			return -1;
		}
		got += (size_t)r;
	}
	*len = got;
	return 0;
}

/* A cached file is "<text length>\n<text><program>": used only when the text is ours. */
static int read_cached(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	char *buf;
	size_t n;
	int rc = read_all(fd, &buf, &n);
	close(fd);
	if (rc < 0)
		return -1;
	char head[32];
	int hl = snprintf(head, sizeof(head), "%zu\n", len);
	size_t at = (size_t)hl + len;
	if (n <= at || (n - at) % sizeof(struct sock_filter) != 0 || memcmp(buf, head, (size_t)hl) != 0 || memcmp(buf + hl, text, len) != 0) {
		free(buf);
		return -1;
	}
	program_len = (n - at) / sizeof(struct sock_filter);
	program = malloc(n - at);
	if (!program) {
		free(buf);
		return -1;
	}
	memcpy(program, buf + at, n - at);
	free(buf);
	return 0;
}

/* Best effort: a cache that cannot be written only costs the next run the compile. */
static void write_cached(const char *dir, const char *path, const char *text, size_t len)
{
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return;
	char tmp[PATH_MAX + 32];
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	char head[32];
	int hl = snprintf(head, sizeof(head), "%zu\n", len);
	size_t size = program_len * sizeof(struct sock_filter);
	int ok = write(fd, head, (size_t)hl) == hl && write(fd, text, len) == (ssize_t)len && write(fd, program, size) == (ssize_t)size;
	close(fd);
	if (!ok || rename(tmp, path) < 0)
		unlink(tmp);
}

static void compile(const struct config *c)
{
	scmp_filter_ctx ctx = seccomp_init(c->seccomp_default_action);
	if (!ctx)
		fail("setup", "seccomp: cannot initialise a filter");
	/* no_new_privs is the spec's decision (noNewPrivileges), never a side
	 * effect of loading a filter, which libseccomp does by default */
	int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (rc < 0)
		fail("setup", "seccomp: clear the no_new_privs attribute: %s", strerror(-rc));
#if SCMP_VER_MAJOR > 2 || (SCMP_VER_MAJOR == 2 && SCMP_VER_MINOR >= 5)
	/* The same rules as a binary tree of syscall numbers instead of a
	 * list: the kernel runs the whole program for every syscall number
	 * when the filter is loaded (to find those it may allow without
	 * running it again), about 1 ms at each RUN for the ~1000
	 * instructions of the list; a tree takes a few dozen per number.
	 * Best effort: without it the list is as strict, only slower. */
	(void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
#endif
	for (size_t i = 0; i < c->n_seccomp_arches; i++) {
		uint32_t arch = seccomp_arch_resolve_name(c->seccomp_arches[i]);
		if (!arch)
			fail("setup", "seccomp: unknown architecture %s", c->seccomp_arches[i]);
		rc = seccomp_arch_add(ctx, arch);
		if (rc < 0 && rc != -EEXIST)
			fail("setup", "seccomp: add architecture %s: %s", c->seccomp_arches[i], strerror(-rc));
	}
	for (size_t i = 0; i < c->n_seccomp_rules; i++) {
		const struct seccomp_rule *r = &c->seccomp_rules[i];
		int nr = seccomp_syscall_resolve_name(r->syscall);
		/* a syscall this libseccomp does not know cannot be called by
		 * name either; runc skips those too */
		if (nr == __NR_SCMP_ERROR)
			continue;
		struct scmp_arg_cmp args[6];
		unsigned n = parse_args(r->args, args, 6);
		rc = seccomp_rule_add_array(ctx, r->action, nr, n, args);
		/* -EOPNOTSUPP: the syscall does not exist on one of the added
		 * architectures for a rule with arguments; nothing to filter */
		if (rc < 0 && rc != -EOPNOTSUPP)
			fail("setup", "seccomp: rule for %s: %s", r->syscall, strerror(-rc));
	}
	/* the program libseccomp would load, exported through a memory file */
	int fd = (int)syscall(SYS_memfd_create, "seccomp", MFD_CLOEXEC);
	if (fd < 0)
		fail("setup", "seccomp: memfd_create: %s", strerror(errno));
	rc = seccomp_export_bpf(ctx, fd);
	if (rc < 0)
		fail("setup", "seccomp: build the filter: %s", strerror(-rc));
	seccomp_release(ctx);
	char *buf;
	size_t n;
	if (read_all(fd, &buf, &n) < 0 || n % sizeof(struct sock_filter) != 0)
		fail("setup", "seccomp: read the built filter back");
	close(fd);
	program = (struct sock_filter *)buf;
	program_len = n / sizeof(struct sock_filter);
}

void prepare_seccomp(const struct config *c)
{
	if (!c->seccomp)
		return;
	size_t len;
	char *text = rules_text(c, &len);
	char path[PATH_MAX];
	int cached = c->seccomp_cache && cache_path(c, text, len, path, sizeof(path)) == 0;
	if (cached && read_cached(path, text, len) == 0) {
		free(text);
		return;
	}
	compile(c);
	if (cached)
		write_cached(c->seccomp_cache, path, text, len);
	free(text);
}

void load_seccomp(const struct config *c)
{
	if (!c->seccomp)
		return;
	if (!program)
		fail("setup", "seccomp: the filter was not prepared");
	struct sock_fprog prog = { .len = (unsigned short)program_len, .filter = program };
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) {
		/* kernels before 3.17 have no seccomp(2): prctl does the same */
		if (errno != ENOSYS || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
			fail("setup", "seccomp: load the filter: %s", strerror(errno));
	}
}
#endif
