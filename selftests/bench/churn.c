// SPDX-License-Identifier: GPL-2.0
/*
 * vmashadow_bench churn: each thread maps its --pages pages, writes them and
 * unmaps them, over and over: the writer alone, whose cost an index pays
 * twice per VMA. threads.c runs the rounds, in holes of their own
 * (map_fault_regions()); --vmas K first maps K more faulted one-page VMAs
 * (map_extra_vmas(), common.c).
 */
#include "bench.h"

/*
 * churn: a fresh mapping, every page written, unmapped. Always in the
 * thread's own hole between two PROT_NONE pages, so it never merges with a
 * neighbour and every run does the same work.
 */
int churn_pages(struct worker *w)
{
	size_t len = cfg.pages * page_size;
	char *p;

	p = mmap(w->region, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED)
		return fail(&w->err, &w->errnum, "churn: mmap");
	if (p != w->region) {
		errno = EEXIST;	/* a kernel that ignored the hint */
		return fail(&w->err, &w->errnum, "churn: mmap placed elsewhere");
	}
	for (long i = 0; i < cfg.pages; i++)
		((volatile char *)p)[i * page_size] = 1;
	if (munmap(p, len))
		return fail(&w->err, &w->errnum, "churn: munmap");
	return 0;
}
