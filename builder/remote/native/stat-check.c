/*
 * tsbuild-stat-check: is a build context still exactly as the remote
 * client's snapshot of it remembers (builder/remote/context-snapshot.ts)?
 *
 * The client of a remote build asks this once per build, before anything
 * else, and it is most of what a no-op remote rebuild does: one lstat per
 * context entry. Node wraps every lstat in a Stats object with four Dates
 * (some 18,000 instructions each); here it is the system call and six
 * comparisons, and it runs on another CPU while the client connects.
 *
 * Reads the snapshot file on stdin (the client's own open file, which it
 * reads too, so both judge the same snapshot) and exits 0 when every stat the
 * snapshot holds is unchanged, 1 when one differs or the snapshot does not
 * allow the shortcut, 2 when the input is not a snapshot it understands.
 * With --table (a local build's memo lookup, builder/cli/local-memo-entry.ts)
 * every row is lstat'ed, none skipped after a change, and when one changed
 * the results go to stdout before exiting 1: per row, in the snapshot's
 * order, TABLE_NUMS doubles in this machine's byte order (mode, size, mtime,
 * ctime, inode, device, uid, gid, link count; all zero for an entry that is
 * gone). The build that follows takes its walk's stats from them
 * (builder/context/prestat.ts) instead of an lstat per entry in Node.
 *
 * The numbers are compared as Node computes them (doubles; times as
 * sec * 1000 + nsec / 1e6 in milliseconds), so the two always agree;
 * built with -ffp-contract=off so that no fused multiply-add rounds
 * differently.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NUMS 6
#define TABLE_NUMS 9
#define FLAG_CHECKABLE 1u
#define FLAG_BIG_ENDIAN 2u
enum { SAME = 0, CHANGED = 1, UNKNOWN = 2 };

static uint32_t u32le(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static double ms(struct timespec t)
{
	return (double)t.tv_sec * 1000.0 + (double)t.tv_nsec / 1000000.0;
}

static int same(const struct stat *st, const double *n)
{
	return n[0] == (double)st->st_mode && n[1] == (double)st->st_size && n[2] == ms(st->st_mtim) &&
	       n[3] == ms(st->st_ctim) && n[4] == (double)st->st_ino && n[5] == (double)st->st_dev;
}

static unsigned char *read_stdin(size_t *len)
{
	size_t cap = 1 << 20, n = 0;
	unsigned char *buf = malloc(cap);
	for (;;) {
		if (!buf)
			return NULL;
		ssize_t r = read(0, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return NULL;
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == cap)
			buf = realloc(buf, cap *= 2);
	}
	*len = n;
	return buf;
}

#define THREADS 2

struct entry_list {
	int rootfd;
	char **names;
	const double *nums;
	/* --table: every row's lstat goes here, and no row is skipped. */
	double *table;
	atomic_int changed;
};

struct rows_job {
	struct entry_list *list;
	size_t from, to;
};

static void *check_rows(void *arg)
{
	struct rows_job *job = arg;
	struct entry_list *l = job->list;
	for (size_t i = job->from; i < job->to && (l->table || !atomic_load_explicit(&l->changed, memory_order_relaxed)); i++) {
		struct stat st;
		int found = fstatat(l->rootfd, l->names[i], &st, AT_SYMLINK_NOFOLLOW) == 0;
		if (!found || !same(&st, l->nums + i * NUMS))
			atomic_store(&l->changed, 1);
		if (l->table && found) {
			double *t = l->table + i * TABLE_NUMS;
			t[0] = (double)st.st_mode;
			t[1] = (double)st.st_size;
			t[2] = ms(st.st_mtim);
			t[3] = ms(st.st_ctim);
			t[4] = (double)st.st_ino;
			t[5] = (double)st.st_dev;
			t[6] = (double)st.st_uid;
			t[7] = (double)st.st_gid;
			t[8] = (double)st.st_nlink;
		}
	}
	return NULL;
}

/* All of buf to stdout; false when it cannot be written (the reader went away). */
static int write_all(const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t w = write(1, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return 0;
		p += w;
		len -= (size_t)w;
	}
	return 1;
}

int main(int argc, char **argv)
{
	const int want_table = argc > 1 && strcmp(argv[1], "--table") == 0;
	size_t len;
	unsigned char *buf = read_stdin(&len);
	if (!buf || len < 40 || memcmp(buf, "TSBSNAP3", 8) != 0)
		return UNKNOWN;
	uint32_t head = u32le(buf + 8), rows = u32le(buf + 12), names_len = u32le(buf + 16);
	uint32_t around = u32le(buf + 20), around_len = u32le(buf + 24), flags = u32le(buf + 28);
	const uint16_t probe = 1;
	const int big_endian_here = *(const unsigned char *)&probe == 0;
	if (!(flags & FLAG_CHECKABLE) || around == 0 || big_endian_here != !!(flags & FLAG_BIG_ENDIAN))
		return CHANGED;
	size_t paths_at = 40 + (size_t)head, names_at = paths_at + around_len, nums_at = names_at + names_len;
	nums_at += (8 - nums_at % 8) % 8;
	size_t end = nums_at + ((size_t)around + rows) * NUMS * sizeof(double);
	if (end > len)
		return UNKNOWN;
	double *nums = malloc(((size_t)around + rows) * NUMS * sizeof(double) + 1);
	if (!nums)
		return UNKNOWN;
	memcpy(nums, buf + nums_at, ((size_t)around + rows) * NUMS * sizeof(double));

	/* The context directory and the ignore files: followed, as reading them does; absent is all zeros. */
	const char *p = (const char *)buf + paths_at, *paths_end = (const char *)buf + names_at;
	const char *root = p;
	for (uint32_t i = 0; i < around; i++) {
		const char *nul = memchr(p, 0, (size_t)(paths_end - p));
		if (!nul && i + 1 < around)
			return UNKNOWN;
		char *path = strndup(p, nul ? (size_t)(nul - p) : (size_t)(paths_end - p));
		if (i == 0)
			root = path;
		struct stat st;
		const double *n = nums + (size_t)i * NUMS;
		if (stat(path, &st) == 0) {
			if (!same(&st, n))
				return CHANGED;
		} else if (!((errno == ENOENT || errno == ENOTDIR) && n[0] == 0))
			return CHANGED;
		p = nul ? nul + 1 : paths_end;
	}

	/* The entries, relative to the root (opened once: each lookup then
	 * starts there), NUL-separated; split between two threads, since the
	 * system calls are all the work and the client waits for the answer. */
	struct rows_job jobs[THREADS];
	struct entry_list list = { .rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC), .nums = nums + (size_t)around * NUMS };
	if (list.rootfd < 0)
		return CHANGED;
	if (want_table && !(list.table = calloc((size_t)rows * TABLE_NUMS + 1, sizeof(double))))
		return UNKNOWN;
	list.names = malloc(((size_t)rows + 1) * sizeof(char *));
	if (!list.names)
		return UNKNOWN;
	char *name = (char *)buf + names_at, *names_end = name + names_len;
	for (uint32_t i = 0; i < rows; i++) {
		char *nul = memchr(name, 0, (size_t)(names_end - name));
		if (!nul && i + 1 < rows)
			return UNKNOWN;
		if (!nul)
			nul = names_end; /* the last name ends where the names do: the byte after is padding or a number */
		list.names[i] = strndup(name, (size_t)(nul - name));
		name = nul + 1;
	}
	pthread_t threads[THREADS];
	int started = 0;
	for (int t = 0; t < THREADS; t++) {
		jobs[t] = (struct rows_job){ .list = &list, .from = rows * (size_t)t / THREADS, .to = rows * (size_t)(t + 1) / THREADS };
		if (t > 0 && pthread_create(&threads[t], NULL, check_rows, &jobs[t]) == 0)
			started |= 1 << t;
		else if (t > 0)
			check_rows(&jobs[t]);
	}
	check_rows(&jobs[0]);
	for (int t = 1; t < THREADS; t++)
		if (started & (1 << t))
			pthread_join(threads[t], NULL);
	if (!atomic_load(&list.changed))
		return SAME;
	if (list.table)
		write_all(list.table, (size_t)rows * TABLE_NUMS * sizeof(double));
	return CHANGED;
}
