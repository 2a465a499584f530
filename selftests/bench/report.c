// SPDX-License-Identifier: GPL-2.0
/*
 * vmashadow_bench's output: the RESULT lines every scenario prints, and the
 * report of a threaded run (threads.c): the kernel's fault count checked
 * against the pages touched, the DIAG line, the latency percentiles.
 */
#include "bench.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile (@pct in 1..100) of a sorted array. */
static uint64_t percentile(const uint64_t *v, size_t n, unsigned int pct)
{
	size_t rank = (n * pct + 99) / 100;

	return v[rank ? rank - 1 : 0];
}

void print_result(const char *metric, const char *unit, double value,
		  uint64_t faults, uint64_t touched)
{
	printf("RESULT scenario=%s variant=%s threads=%d metric=%s unit=%s value=%.2f faults=%llu touched=%llu\n",
	       scenario_names[cfg.scenario], cfg.variant_name,
	       cfg.threads, metric, unit, value, (unsigned long long)faults,
	       (unsigned long long)touched);
}

/*
 * A run whose kernel count is below half the pages it touched (@done:
 * "touched" or "written") measured nothing: says so, returns 1.
 */
int measured_nothing(uint64_t faults, uint64_t pages, const char *done)
{
	fflush(stdout);
	fprintf(stderr,
		"vmashadow_bench: the kernel counted %llu faults for %llu pages %s: this run measured nothing\n",
		(unsigned long long)faults, (unsigned long long)pages, done);
	return 1;
}

static int report_latency(struct worker *w, uint64_t faults, uint64_t touched)
{
	size_t n = 0, k = 0;
	uint64_t max = 0, *all;

	for (int i = 0; i < cfg.threads; i++) {
		n += w[i].nsamples;
		if (w[i].lat_max > max)
			max = w[i].lat_max;
	}
	all = malloc(n * sizeof(*all));
	if (!n || !all) {
		fprintf(stderr, "vmashadow_bench: no latency samples\n");
		free(all);
		return -1;
	}
	for (int i = 0; i < cfg.threads; i++)
		for (size_t j = 0; j < w[i].nsamples; j++)
			all[k++] = w[i].samples[j];
	qsort(all, n, sizeof(*all), cmp_u64);
	printf("# latency over %zu sampled faults: p50 %llu ns, p99 %llu ns, max %llu ns\n",
	       n, (unsigned long long)percentile(all, n, 50),
	       (unsigned long long)percentile(all, n, 99),
	       (unsigned long long)max);
	print_result("lat_p50_ns", "ns", (double)percentile(all, n, 50), faults, touched);
	print_result("lat_p99_ns", "ns", (double)percentile(all, n, 99), faults, touched);
	print_result("lat_max_ns", "ns", (double)max, faults, touched);
	free(all);
	return 0;
}

/*
 * Where the time went, one line, not a metric the report compares:
 *   sleeps_per_kfault    voluntary context switches of the faulting threads
 *                        per 1000 faults: a fault that waits for mmap_lock
 *                        sleeps (readers do not spin on an rwsem)
 *   preempts_per_kfault  their involuntary context switches per 1000 faults
 *   wcalls_per_sec       writer: syscalls taking mmap_lock for writing, per s
 *   wcall_us, wcall_max_us  their mean and longest duration, waits included
 *   wcall_pct            share of the writer's time spent inside them: in
 *                        stock mode an upper bound of the share of time the
 *                        write lock is held (nothing else takes it)
 *   wsleeps_per_op       writer sleeps per op (waits for mmap_lock and more)
 */
static void report_diag(struct worker *w, struct writer *wr, uint64_t faults)
{
	uint64_t nvcsw = 0, nivcsw = 0;

	for (int i = 0; i < cfg.threads; i++) {
		nvcsw += w[i].nvcsw;
		nivcsw += w[i].nivcsw;
	}
	printf("DIAG scenario=%s variant=%s threads=%d sleeps_per_kfault=%.3f preempts_per_kfault=%.3f",
	       scenario_names[cfg.scenario], cfg.variant_name,
	       cfg.threads, 1000.0 * nvcsw / faults, 1000.0 * nivcsw / faults);
	if (has_writer() && wr->elapsed > 0 && wr->ops) {
		printf(" writer_pages=%ld wcalls_per_sec=%.1f wcall_us=%.1f wcall_max_us=%.1f wcall_pct=%.2f wsleeps_per_op=%.3f",
		       cfg.writer_pages, wr->calls / wr->elapsed,
		       wr->calls ? wr->call_ns / 1e3 / wr->calls : 0.0,
		       wr->call_max_ns / 1e3,
		       100.0 * wr->call_ns / 1e9 / wr->elapsed,
		       (double)wr->nvcsw / wr->ops);
	}
	printf("\n");
}

/* Check the kernel counts, then print. Returns the exit status. */
int report(struct worker *w, struct writer *wr, double warmup)
{
	uint64_t faults = 0, touched = 0;
	double rate = 0, wrate = 0;

	for (int i = 0; i < cfg.threads; i++) {
		faults += w[i].faults;
		touched += w[i].touched;
		if (w[i].elapsed > 0)
			rate += (double)w[i].faults / w[i].elapsed;
	}
	if (has_writer() && wr->elapsed > 0)
		wrate = (double)wr->ops / wr->elapsed;

	printf("# %s variant=%s threads=%d pages=%ld writer_pages=%ld seconds=%.2f warmup=%.2f: %llu faults counted by the kernel for %llu pages touched\n",
	       scenario_names[cfg.scenario], cfg.variant_name,
	       cfg.threads, cfg.pages, has_writer() ? cfg.writer_pages : 0,
	       cfg.seconds, warmup,
	       (unsigned long long)faults, (unsigned long long)touched);
	if (!faults || faults * 2 < touched)
		return measured_nothing(faults, touched, "touched");
	report_diag(w, wr, faults);
	if (cfg.latency)
		return report_latency(w, faults, touched) ? 1 : 0;

	printf("# %.0f faults/s", rate);
	if (cfg.scenario == SC_CHURN)
		printf(" (%.0f mappings/s of %ld pages)", rate / cfg.pages,
		       cfg.pages);
	if (has_writer())
		printf(", writer %s %.0f ops/s", variant_names[cfg.variant], wrate);
	printf("\n");
	print_result("faults_per_sec", "faults/s", rate, faults, touched);
	if (has_writer())
		print_result("writer_ops_per_sec", "ops/s", wrate, faults, touched);
	return 0;
}
