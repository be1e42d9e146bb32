/*
 * The seccomp filter, built with libseccomp from the records the TS side
 * compiled out of a moby-format profile (runner-native/seccomp.ts): the
 * capability and kernel conditions are already resolved there, so here a
 * rule is just "action for syscall NAME when these argument tests hold".
 */
#include "sandbox.h"

#include <errno.h>
#ifdef NO_LIBSECCOMP
void load_seccomp(const struct config *c)
{
	if (c->seccomp)
		fail("setup", "seccomp: this sandbox helper was built without libseccomp (apt-get install libseccomp-dev, then npm run build), so it cannot apply a seccomp profile; --security-opt seccomp=unconfined runs without one");
}
#else
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void load_seccomp(const struct config *c)
{
	if (!c->seccomp)
		return;
	scmp_filter_ctx ctx = seccomp_init(c->seccomp_default_action);
	if (!ctx)
		fail("setup", "seccomp: cannot initialise a filter");
	/* no_new_privs is the spec's decision (noNewPrivileges), never a side
	 * effect of loading a filter, which libseccomp does by default */
	int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (rc < 0)
		fail("setup", "seccomp: clear the no_new_privs attribute: %s", strerror(-rc));
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
	rc = seccomp_load(ctx);
	if (rc < 0)
		fail("setup", "seccomp: load the filter: %s", strerror(-rc));
	seccomp_release(ctx);
}
#endif
