/*
 * Device access on cgroup v2: v2 has no devices.allow/devices.deny files;
 * the kernel asks a BPF_PROG_TYPE_CGROUP_DEVICE program attached to the
 * cgroup instead (what runc and crun do).  We translate the spec's device
 * rules (already ordered and validated by the TS side, see
 * runner-native/device-rules.ts) into such a program, load it and attach
 * it to the container's cgroup before the container may run anything.
 *
 * Semantics are those of the v1 files: the LAST rule that matches a
 * request decides; a request nothing matches is denied.  A rule matches
 * when its type ('a' = any), major and minor (-1 = any) match and the
 * requested access is a subset of the rule's ("rwm").
 */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* instruction builders (the uapi has no C macros for them) */
static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
	struct bpf_insn i;
	memset(&i, 0, sizeof(i));
	i.code = code;
	i.dst_reg = dst;
	i.src_reg = src;
	i.off = off;
	i.imm = imm;
	return i;
}
#define LDX_W(dst, src, off) insn(BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0)
#define MOV32_REG(dst, src) insn(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0)
#define MOV32_IMM(dst, imm) insn(BPF_ALU | BPF_MOV | BPF_K, dst, 0, 0, imm)
#define AND32_IMM(dst, imm) insn(BPF_ALU | BPF_AND | BPF_K, dst, 0, 0, imm)
#define RSH32_IMM(dst, imm) insn(BPF_ALU | BPF_RSH | BPF_K, dst, 0, 0, imm)
#define JNE_IMM(dst, imm, off) insn(BPF_JMP | BPF_JNE | BPF_K, dst, 0, off, imm)
#define EXIT() insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

static int access_bits(const char *access)
{
	int bits = 0;
	for (const char *p = access; *p; p++)
		bits |= *p == 'm' ? BPF_DEVCG_ACC_MKNOD : *p == 'r' ? BPF_DEVCG_ACC_READ : *p == 'w' ? BPF_DEVCG_ACC_WRITE : 0;
	return bits;
}

/* Appends the instructions of one rule: "if it matches, return allow".
 * *always is set when the rule matches every request (code after it
 * would be unreachable, which the verifier refuses). */
static size_t emit_rule(struct bpf_insn *out, const struct device_rule *r, int *always)
{
	struct bpf_insn block[16];
	size_t n = 0;
	/* each JNE below jumps to the end of this block: patched after */
	size_t jumps[8], nj = 0;
	if (r->type != 'a') {
		jumps[nj++] = n;
		block[n++] = JNE_IMM(2, r->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR, 0);
	}
	int bits = access_bits(r->access);
	if (bits != (BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE)) {
		/* requested & ~allowed must be 0 */
		block[n++] = MOV32_REG(1, 3);
		block[n++] = AND32_IMM(1, ~bits);
		jumps[nj++] = n;
		block[n++] = JNE_IMM(1, 0, 0);
	}
	if (r->major >= 0) {
		jumps[nj++] = n;
		block[n++] = JNE_IMM(4, r->major, 0);
	}
	if (r->minor >= 0) {
		jumps[nj++] = n;
		block[n++] = JNE_IMM(5, r->minor, 0);
	}
	block[n++] = MOV32_IMM(0, r->allow ? 1 : 0);
	block[n++] = EXIT();
	for (size_t i = 0; i < nj; i++)
		block[jumps[i]].off = (int16_t)(n - jumps[i] - 1);
	*always = nj == 0;
	memcpy(out, block, n * sizeof(*block));
	return n;
}

size_t device_program(const struct device_rule *rules, size_t n_rules, struct bpf_insn *out)
{
	size_t n = 0;
	/* r2 = device type, r3 = requested access, r4 = major, r5 = minor */
	out[n++] = LDX_W(2, 1, offsetof(struct bpf_cgroup_dev_ctx, access_type));
	out[n++] = AND32_IMM(2, 0xffff);
	out[n++] = LDX_W(3, 1, offsetof(struct bpf_cgroup_dev_ctx, access_type));
	out[n++] = RSH32_IMM(3, 16);
	out[n++] = LDX_W(4, 1, offsetof(struct bpf_cgroup_dev_ctx, major));
	out[n++] = LDX_W(5, 1, offsetof(struct bpf_cgroup_dev_ctx, minor));
	/* last matching rule wins: test them from the last one back */
	for (size_t i = n_rules; i-- > 0;) {
		int always;
		n += emit_rule(out + n, &rules[i], &always);
		if (always)
			return n; /* e.g. "deny all": nothing before it can matter */
	}
	out[n++] = MOV32_IMM(0, 0);
	out[n++] = EXIT();
	return n;
}

void attach_device_program(const struct config *c)
{
	if (!c->devices_bpf_cgroup)
		return;
	/* at most 16 instructions per rule plus the prologue and epilogue */
	struct bpf_insn *prog = calloc(c->n_device_rules * 16 + 16, sizeof(*prog));
	if (!prog)
		fail("setup", "device program: out of memory");
	size_t n = device_program(c->device_rules, c->n_device_rules, prog);

	char log[4096] = "";
	union bpf_attr load;
	memset(&load, 0, sizeof(load));
	load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	load.insns = (uint64_t)(uintptr_t)prog;
	load.insn_cnt = (uint32_t)n;
	load.license = (uint64_t)(uintptr_t)"Apache-2.0";
	load.log_buf = (uint64_t)(uintptr_t)log;
	load.log_size = sizeof(log);
	load.log_level = 1;
	int prog_fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof(load));
	if (prog_fd < 0 && errno == ENOSPC) {
		/* the verifier log did not fit; load again without it */
		load.log_buf = 0; load.log_size = 0; load.log_level = 0;
		prog_fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof(load));
	}
	free(prog);
	if (prog_fd < 0) {
		char *nl;
		while ((nl = strchr(log, '\n')))
			*nl = ' ';
		fail("setup", "load the device cgroup program: %s %s", strerror(errno), log);
	}

	int cg_fd = open(c->devices_bpf_cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg_fd < 0)
		fail("setup", "open cgroup %s: %s", c->devices_bpf_cgroup, strerror(errno));
	union bpf_attr attach;
	memset(&attach, 0, sizeof(attach));
	attach.target_fd = (uint32_t)cg_fd;
	attach.attach_bpf_fd = (uint32_t)prog_fd;
	attach.attach_type = BPF_CGROUP_DEVICE;
	/* MULTI: programs of parent cgroups (systemd's, a container host's)
	 * still run too, so we can only ever narrow access */
	attach.attach_flags = BPF_F_ALLOW_MULTI;
	if (syscall(SYS_bpf, BPF_PROG_ATTACH, &attach, sizeof(attach)) < 0)
		fail("setup", "attach the device cgroup program to %s: %s", c->devices_bpf_cgroup, strerror(errno));
	/* the cgroup holds the program now; it goes away with the cgroup */
	close(cg_fd);
	close(prog_fd);
}
