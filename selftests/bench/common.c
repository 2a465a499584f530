// SPDX-License-Identifier: GPL-2.0
/*
 * vmashadow_bench's helpers for every scenario: sleeping, a thread's first
 * error, the kernel's fault counts, THP off, and churn's and path's extra
 * one-page VMAs.
 */
#include "bench.h"

long page_size;

void sleep_seconds(double s)
{
	struct timespec ts = {
		.tv_sec = (time_t)s,
		.tv_nsec = (long)((s - (double)(time_t)s) * 1e9),
	};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Record the first error of a thread and stop everybody. */
int fail(const char **err, int *errnum, const char *what)
{
	*err = what;
	*errnum = errno;
	atomic_store(&phase, PH_STOP);
	return -1;
}

void thread_rusage(struct rusage *ru)
{
	/* RUSAGE_THREAD cannot fail with a valid buffer; be loud if it does. */
	if (getrusage(RUSAGE_THREAD, ru)) {
		perror("getrusage");
		exit(1);
	}
}

uint64_t fault_count(const struct rusage *ru)
{
	return (uint64_t)ru->ru_minflt + (uint64_t)ru->ru_majflt;
}

/*
 * MADV_NOHUGEPAGE keeps the fault count at one per 4 KiB page. A kernel
 * built without THP rejects the advice with EINVAL: there is nothing to
 * disable then.
 */
int no_huge_pages(void *p, size_t len)
{
	if (madvise(p, len, MADV_NOHUGEPAGE) && errno != EINVAL) {
		perror("madvise(MADV_NOHUGEPAGE)");
		return -1;
	}
	return 0;
}

uint64_t thread_faults(void)
{
	struct rusage ru;

	thread_rusage(&ru);
	return fault_count(&ru);
}

/*
 * churn --vmas K: K one-page VMAs, each written once (so an index learns
 * it), between PROT_NONE pages so that none merge.
 */
char *map_extra_vmas(char **base, size_t *len)
{
	char *p;

	*len = (2 * cfg.vmas + 1) * page_size;
	p = mmap(NULL, *len, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap(extra VMAs)");
		return NULL;
	}
	*base = p;
	for (long i = 0; i < cfg.vmas; i++) {
		char *vma = p + (2 * i + 1) * page_size;

		if (mprotect(vma, page_size, PROT_READ | PROT_WRITE)) {
			int err = errno;

			perror("mprotect(extra VMA)");
			if (err == ENOMEM)
				fprintf(stderr, "vmashadow_bench: --vmas %ld needs %ld VMAs: raise /proc/sys/vm/max_map_count\n",
					cfg.vmas, 2 * cfg.vmas + 1);
			return NULL;
		}
		*(volatile char *)vma = 1;
	}
	return p;
}
