/*
 * Whether we run in a user namespace other than the host's, whose uid map
 * is the identity "0 0 4294967295".  Shared by tsbuild-sandbox (userns.c)
 * and tsbuild-prestart, which is built apart from it.
 */
#ifndef TSBUILD_USERNS_CHECK_H
#define TSBUILD_USERNS_CHECK_H

#include <stdio.h>

static inline int userns_check(void)
{
	FILE *f = fopen("/proc/self/uid_map", "r");
	unsigned long inside, outside, count;
	int in_userns = 0;
	if (f) {
		if (fscanf(f, "%lu %lu %lu", &inside, &outside, &count) == 3)
			in_userns = !(inside == 0 && outside == 0 && count == 4294967295UL && fgetc(f) == '\n' && fgetc(f) == EOF);
		fclose(f);
	}
	return in_userns;
}

#endif
