// SPDX-License-Identifier: GPL-2.0
/*
 * vmashadow_bench contended and kernel-faults: the writer thread, which
 * churns the address space while the others fault (threads.c starts it).
 * Variant munmap: mmap, touch and munmap --writer-pages pages; variant
 * mprotect: flip the middle half of a populated region between RO and RW,
 * splitting its VMA and merging it back. Its syscalls that take mmap_lock
 * for writing are timed, for the DIAG line (report.c).
 */
#include "bench.h"

/*
 * The writer's syscalls that take mmap_lock for writing, timed: in a mode
 * where nothing else takes mmap_lock their time is (an upper bound of) the
 * write hold; where faults take it too, it includes the wait for it.
 */
static bool measuring(void)
{
	return atomic_load(&phase) == PH_MEASURE;
}

/* @counted: the call started inside the measured window. */
static void account_call(struct writer *wr, bool counted, uint64_t t0)
{
	uint64_t ns = now_ns() - t0;

	if (!counted)
		return;
	wr->calls++;
	wr->call_ns += ns;
	if (ns > wr->call_max_ns)
		wr->call_max_ns = ns;
}

static int churn_munmap(struct writer *wr)
{
	size_t len = cfg.writer_pages * page_size;
	bool counted;
	uint64_t t0;
	char *p;

	counted = measuring();
	t0 = now_ns();
	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return fail(&wr->err, &wr->errnum, "writer: mmap");
	account_call(wr, counted, t0);
	for (long i = 0; i < cfg.writer_pages; i++)
		((volatile char *)p)[i * page_size] = 1;
	/* munmap() downgrades mmap_lock to read before it zaps the pages. */
	counted = measuring();
	t0 = now_ns();
	if (munmap(p, len))
		return fail(&wr->err, &wr->errnum, "writer: munmap");
	account_call(wr, counted, t0);
	return 0;
}

/*
 * Split the region's VMA in three, then merge it back: each mprotect()
 * walks the page tables of the middle half and flushes the TLB, all under
 * mmap_lock held for writing.
 */
static int churn_mprotect(struct writer *wr)
{
	char *mid = wr->region + cfg.writer_pages / 4 * page_size;
	size_t len = cfg.writer_pages / 2 * page_size;
	bool counted;
	uint64_t t0;

	counted = measuring();
	t0 = now_ns();
	if (mprotect(mid, len, PROT_READ))
		return fail(&wr->err, &wr->errnum, "writer: mprotect(RO)");
	account_call(wr, counted, t0);
	counted = measuring();
	t0 = now_ns();
	if (mprotect(mid, len, PROT_READ | PROT_WRITE))
		return fail(&wr->err, &wr->errnum, "writer: mprotect(RW)");
	account_call(wr, counted, t0);
	return 0;
}

static int churn(struct writer *wr)
{
	return cfg.variant == V_MPROTECT ? churn_mprotect(wr) : churn_munmap(wr);
}

void *writer_thread(void *arg)
{
	struct writer *wr = arg;
	struct rusage r0, r1;
	double t0;

	pthread_barrier_wait(&start_barrier);
	while (atomic_load(&phase) == PH_WARMUP)
		if (churn(wr))
			return NULL;
	thread_rusage(&r0);
	t0 = now();
	do {
		if (churn(wr))
			return NULL;
		wr->ops++;
	} while (atomic_load(&phase) == PH_MEASURE);
	wr->elapsed = now() - t0;
	thread_rusage(&r1);
	wr->nvcsw = r1.ru_nvcsw - r0.ru_nvcsw;
	wr->nivcsw = r1.ru_nivcsw - r0.ru_nivcsw;
	return NULL;
}

/*
 * mprotect variant: a populated region (so each mprotect walks real page
 * tables) between PROT_NONE guard pages, so its VMA merges back with itself
 * and never with a neighbour such as a thread stack.
 */
int map_writer_region(struct writer *wr)
{
	size_t len = (cfg.writer_pages + 2) * page_size;
	char *p;

	p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap(writer region)");
		return -1;
	}
	wr->guarded = p;
	wr->region = p + page_size;
	if (mprotect(wr->region, cfg.writer_pages * page_size,
		     PROT_READ | PROT_WRITE)) {
		perror("mprotect(writer region)");
		return -1;
	}
	if (no_huge_pages(wr->region, cfg.writer_pages * page_size))
		return -1;
	memset(wr->region, 1, cfg.writer_pages * page_size);
	return 0;
}

bool has_writer(void)
{
	return cfg.scenario == SC_CONTENDED || cfg.scenario == SC_KERNEL_FAULTS;
}
