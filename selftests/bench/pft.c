// SPDX-License-Identifier: GPL-2.0
/*
 * vmashadow_bench pft: mmtests' page fault test. N threads fault disjoint
 * slices of one fresh --mb MiB anonymous region, which is then unmapped.
 */
#include "bench.h"

struct pft_thread {
	pthread_t tid;
	long first, npages;	/* its slice of the region, in pages */
	uint64_t faults, touched;
};

static pthread_barrier_t pft_go, pft_done;
static char *volatile pft_region;
static volatile bool pft_measured, pft_stop;

static void *pft_worker(void *arg)
{
	struct pft_thread *t = arg;

	for (;;) {
		uint64_t f0;

		pthread_barrier_wait(&pft_go);
		if (pft_stop)
			return NULL;
		f0 = thread_faults();
		for (long i = 0; i < t->npages; i++)
			((volatile char *)pft_region)[(t->first + i) * page_size] = 1;
		if (pft_measured) {
			t->faults += thread_faults() - f0;
			t->touched += t->npages;
		}
		pthread_barrier_wait(&pft_done);
	}
}

/*
 * pft: the main thread maps a fresh region (one VMA), the threads fault
 * their slices of it, the main thread unmaps it; faults/s is the faults of
 * the measured iterations over the time from the threads' start to the last
 * one's end (mapping and unmapping are not timed, as in pft).
 */
int run_pft(void)
{
	size_t len = (size_t)cfg.mb << 20;
	long npages = len / page_size, per = npages / cfg.threads;
	struct pft_thread *t;
	double warm_end, end = 0, busy = 0, warmup = cfg.seconds / 10;
	uint64_t faults = 0, touched = 0, iters = 0;
	int started = 0, ret = 1;

	if (warmup < MIN_WARMUP)
		warmup = MIN_WARMUP;
	t = calloc(cfg.threads, sizeof(*t));
	if (!t) {
		perror("calloc");
		return 1;
	}
	if (pthread_barrier_init(&pft_go, NULL, cfg.threads + 1) ||
	    pthread_barrier_init(&pft_done, NULL, cfg.threads + 1)) {
		perror("pthread_barrier_init");
		free(t);
		return 1;
	}
	for (int i = 0; i < cfg.threads; i++) {
		t[i].first = i * per;
		t[i].npages = i == cfg.threads - 1 ? npages - i * per : per;
	}
	for (; started < cfg.threads; started++) {
		int err = pthread_create(&t[started].tid, NULL, pft_worker,
					 &t[started]);

		if (err) {
			errno = err;
			perror("pthread_create");
			die_unjoinable();
		}
	}
	warm_end = now() + warmup;
	for (;;) {
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		double t0;

		if (p == MAP_FAILED) {
			perror("mmap(pft region)");
			break;
		}
		if (no_huge_pages(p, len)) {
			munmap(p, len);
			break;
		}
		pft_region = p;
		pft_measured = now() >= warm_end;
		if (pft_measured && !end)
			end = now() + cfg.seconds;
		t0 = now();
		pthread_barrier_wait(&pft_go);
		pthread_barrier_wait(&pft_done);
		if (pft_measured) {
			busy += now() - t0;
			iters++;
		}
		if (munmap(p, len)) {
			perror("munmap(pft region)");
			break;
		}
		if (pft_measured && now() >= end) {
			ret = 0;
			break;
		}
	}
	pft_stop = true;
	pthread_barrier_wait(&pft_go);
	for (int i = 0; i < cfg.threads; i++) {
		pthread_join(t[i].tid, NULL);
		faults += t[i].faults;
		touched += t[i].touched;
	}
	pthread_barrier_destroy(&pft_go);
	pthread_barrier_destroy(&pft_done);
	free(t);
	if (ret)
		return ret;
	printf("# pft threads=%d mb=%ld seconds=%.2f warmup=%.2f: %llu iterations, %llu faults counted by the kernel for %llu pages touched\n",
	       cfg.threads, cfg.mb, cfg.seconds, warmup,
	       (unsigned long long)iters, (unsigned long long)faults,
	       (unsigned long long)touched);
	if (!faults || faults * 2 < touched || busy <= 0)
		return measured_nothing(faults, touched, "touched");
	printf("# %.0f faults/s\n", faults / busy);
	print_result("faults_per_sec", "faults/s", faults / busy, faults, touched);
	return 0;
}
