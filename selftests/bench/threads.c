// SPDX-License-Identifier: GPL-2.0
/*
 * vmashadow_bench's harness for the scenarios that run faulting threads
 * for a time: contended, uncontended, scale, kernel-faults and churn. It
 * lays out their regions, starts the threads (and the writer of contended
 * and kernel-faults) on a barrier, moves them through the phases (warm-up,
 * measured window, stop), joins them and has the run reported.
 */
#include "bench.h"

_Atomic int phase = PH_WARMUP;
pthread_barrier_t start_barrier;

/*
 * One PROT_NONE reservation holds all fault regions with a PROT_NONE guard
 * page before, between and after them, so a fault region never merges with
 * a neighbour, in particular not with the writer's kernel-placed mappings.
 */
static char *map_fault_regions(struct worker *w, char **base, size_t *len)
{
	bool one_vma = cfg.scenario == SC_SCALE;
	long gap = one_vma ? 0 : 1;
	long npages = cfg.threads * (cfg.pages + gap) + 1 + !gap;
	char *p;

	*len = npages * page_size;
	p = mmap(NULL, *len, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap(reservation)");
		return NULL;
	}
	*base = p;
	for (int i = 0; i < cfg.threads; i++)
		w[i].region = p + (1 + i * (cfg.pages + gap)) * page_size;

	/* scale: one VMA; churn: one hole per thread; the others: one VMA each. */
	for (int i = 0; i < (one_vma ? 1 : cfg.threads); i++) {
		size_t rlen = (one_vma ? cfg.threads : 1) * cfg.pages * page_size;

		if (cfg.scenario == SC_CHURN) {
			if (munmap(w[i].region, rlen)) {
				perror("munmap(churn hole)");
				return NULL;
			}
			continue;
		}
		if (mprotect(w[i].region, rlen, PROT_READ | PROT_WRITE)) {
			perror("mprotect(fault region)");
			return NULL;
		}
		if (no_huge_pages(w[i].region, rlen))
			return NULL;
	}
	return p;
}

static void *fault_thread(void *arg)
{
	struct worker *w = arg;
	struct rusage r0, r1;
	double t0;

	pthread_barrier_wait(&start_barrier);
	while (atomic_load(&phase) == PH_WARMUP)
		if (fault_round(w, false))
			return NULL;

	/*
	 * At least one measured round even if the phase already moved on (a
	 * thread starved through the whole window): its own rate is still
	 * right, and a zero count then means a real problem.
	 */
	thread_rusage(&r0);
	t0 = now();
	do {
		if (fault_round(w, true))
			return NULL;
	} while (atomic_load(&phase) == PH_MEASURE);
	w->elapsed = now() - t0;
	thread_rusage(&r1);
	w->faults = fault_count(&r1) - fault_count(&r0);
	w->nvcsw = r1.ru_nvcsw - r0.ru_nvcsw;
	w->nivcsw = r1.ru_nivcsw - r0.ru_nivcsw;
	return NULL;
}

static int start_threads(struct worker *w, struct writer *wr)
{
	int err;

	for (int i = 0; i < cfg.threads; i++) {
		err = pthread_create(&w[i].tid, NULL, fault_thread, &w[i]);
		if (err) {
			errno = err;
			perror("pthread_create");
			return -1;
		}
	}
	if (has_writer()) {
		err = pthread_create(&wr->tid, NULL, writer_thread, wr);
		if (err) {
			errno = err;
			perror("pthread_create(writer)");
			return -1;
		}
	}
	return 0;
}

static int first_error(struct worker *w, struct writer *wr)
{
	for (int i = 0; i < cfg.threads; i++) {
		if (w[i].err) {
			fprintf(stderr, "vmashadow_bench: thread %d: %s: %s\n",
				i, w[i].err, strerror(w[i].errnum));
			return -1;
		}
	}
	if (wr->err) {
		fprintf(stderr, "vmashadow_bench: %s: %s\n", wr->err,
			strerror(wr->errnum));
		return -1;
	}
	return 0;
}

/*
 * Threads that could not all be started cannot be joined out of the
 * barrier either: exit without unwinding.
 */
void __attribute__((noreturn)) die_unjoinable(void)
{
	fflush(stdout);
	_exit(1);
}

static int run(struct worker *w, struct writer *wr)
{
	int expected = PH_WARMUP;
	double warmup = cfg.seconds / 10;

	if (warmup < MIN_WARMUP)
		warmup = MIN_WARMUP;
	if (start_threads(w, wr))
		die_unjoinable();
	pthread_barrier_wait(&start_barrier);
	sleep_seconds(warmup);
	/* A thread that failed during warm-up has set PH_STOP: keep it. */
	atomic_compare_exchange_strong(&phase, &expected, PH_MEASURE);
	sleep_seconds(cfg.seconds);
	atomic_store(&phase, PH_STOP);

	for (int i = 0; i < cfg.threads; i++)
		pthread_join(w[i].tid, NULL);
	if (has_writer())
		pthread_join(wr->tid, NULL);
	if (first_error(w, wr))
		return 1;
	return report(w, wr, warmup);
}

/* contended, uncontended, scale, kernel-faults, churn: set up, run, clean up. */
int run_threads(void)
{
	struct writer wr = { 0 };
	struct worker *w;
	char *base = NULL, *extra = NULL;
	size_t base_len = 0, extra_len = 0;
	int ret = 1;

	w = calloc(cfg.threads, sizeof(*w));
	if (!w) {
		perror("calloc");
		return 1;
	}
	if (!map_fault_regions(w, &base, &base_len))
		goto out;
	if (cfg.vmas && !map_extra_vmas(&extra, &extra_len))
		goto out;
	if (cfg.latency && alloc_samples(w))
		goto out;
	if (cfg.scenario == SC_KERNEL_FAULTS) {
		data_fd = make_data_file();
		if (data_fd < 0)
			goto out;
	}
	if (cfg.variant == V_MPROTECT && map_writer_region(&wr))
		goto out;
	if (pthread_barrier_init(&start_barrier, NULL,
				 cfg.threads + has_writer() + 1)) {
		perror("pthread_barrier_init");
		goto out;
	}

	ret = run(w, &wr);
	pthread_barrier_destroy(&start_barrier);
out:
	if (wr.guarded && munmap(wr.guarded, (cfg.writer_pages + 2) * page_size))
		perror("munmap(writer region)");
	if (data_fd >= 0)
		close(data_fd);
	for (int i = 0; i < cfg.threads; i++)
		free(w[i].samples);
	if (base && munmap(base, base_len)) {
		perror("munmap(reservation)");
		ret = 1;
	}
	if (extra && munmap(extra, extra_len)) {
		perror("munmap(extra VMAs)");
		ret = 1;
	}
	free(w);
	return ret;
}
