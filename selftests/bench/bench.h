/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmashadow_bench's own header, shared by its files (main.c describes the
 * program, its scenarios and its output). Where things are:
 *
 *   the harness
 *     main.c       the description, main(): one scenario per invocation
 *     args.c       the command line: usage, checks, defaults (cfg)
 *     common.c     helpers: sleeping, errors, fault counts, THP, extra VMAs
 *     threads.c    faulting threads and the writer, the phases, one run of
 *                  contended, uncontended, scale, kernel-faults or churn
 *     report.c     the RESULT and DIAG lines, latency percentiles
 *   the scenarios
 *     contended.c  a faulting thread's round: touch (contended, uncontended,
 *                  scale), pread() (kernel-faults), or churn's; latencies
 *     writer.c     the writer of contended and kernel-faults (munmap,
 *                  mprotect)
 *     churn.c      churn: mmap, write, munmap
 *     page_fault.c page_fault1..3, will-it-scale's
 *     pft.c        pft, mmtests'
 *     path.c       path: what one fault costs (user, kernel, newvma, churn,
 *                  young, procs)
 *     procs.c      procs: processes that fork and exit
 *
 * Built as one program: cc -O2 -pthread -o vmashadow_bench *.c -lm
 * (build_bench in scripts/lib.sh).
 */
#ifndef VMASHADOW_BENCH_H
#define VMASHADOW_BENCH_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/perf_event.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS	1024		/* as scripts/bench/bench.sh allows */
#define MAX_PAGES	262144L		/* per thread: 1 GiB of 4 KiB pages */
#define MAX_TOTAL_PAGES	1048576L	/* over all threads: 4 GiB */
#define MIN_SECONDS	0.01
#define MAX_SECONDS	3600.0
#define MIN_WARMUP	0.2		/* seconds */
#define CHURN_PAGES	16		/* default --writer-pages, munmap */
#define CHURN_PAGES_MPROTECT 512	/* default --writer-pages, mprotect */
#define MAX_CHURN_PAGES	65536L		/* 256 MiB */
#define ARRAY_SIZE(a)	(int)(sizeof(a) / sizeof((a)[0]))
#define MAX_VMAS	65536L		/* --vmas: 2K+1 VMAs, raise vm.max_map_count */
#define PATH_PAGES	256		/* path user, kernel: default --pages */
#define PATH_NEWVMAS	64		/* path newvma: fresh VMAs per round */
#define PATH_ROUNDS	8		/* path: default measured --rounds */
#define PATH_PROCS	16		/* path procs: processes per round */
#define PATH_YOUNG_MS	50		/* path young: the region's first 50 ms */
#define PROC_PAGES	16		/* pages a short-lived child writes */
#define MAX_ROUNDS	100000L
#define MAX_SETTLE_MS	60000L
#define WIS_MB		128		/* will-it-scale's MEMSIZE */
#define PFT_MB		64
#define MAX_MB		4096L
#define LAT_SAMPLES	200000L		/* reservoir, shared out over threads */
#define MIN_LAT_SAMPLES	1000L		/* per thread */

/* In the order --list prints them (the report's). */
enum scenario {
	SC_CONTENDED, SC_UNCONTENDED, SC_KERNEL_FAULTS, SC_SCALE, SC_CHURN,
	SC_PF1, SC_PF2, SC_PF3, SC_PFT, SC_PATH, SC_PROCS
};
enum variant { V_NONE, V_MUNMAP, V_MPROTECT, V_THREADS, V_PROCESSES, V_FORK,
	       V_EXIT };
/* "all" is the eight fault cases; procs, young and split are asked for by name. */
enum path_case { PC_USER, PC_KERNEL, PC_NEWVMA, PC_CHURN, PC_COW, PC_ZEROWP,
		 PC_REUSE, PC_FILE, PC_FALLBACK, PC_ALL, PC_PROCS, PC_YOUNG,
		 PC_SPLIT };
enum counter { CNT_AUTO, CNT_PERF, CNT_CLOCK };

extern const char *const scenario_names[];
extern const char *const variant_names[];
extern const char *const case_names[];

struct config {
	enum scenario scenario;
	enum variant variant;
	int threads;
	long pages;
	long writer_pages;
	long vmas;		/* churn: extra one-page VMAs */
	char variant_name[24];	/* as printed: variant_names[] or "vmasK" */
	double seconds;
	bool latency;
	/* path */
	enum path_case pcase;
	bool pages_given;
	long rounds;
	enum counter counter;
	bool icount;		/* the clock counts instructions (QEMU -icount) */
	long settle_ms;		/* user, kernel: wait after the warm-up round */
	/* page_fault*, pft */
	long mb;
};

extern struct config cfg;
extern long page_size;
extern int data_fd;		/* kernel-faults: the file pread() reads */

/*
 * The main thread moves every thread through the phases. Loops look at the
 * phase only between whole iterations, so a measured window always holds
 * whole touch+zap rounds and the fault count matches the pages touched.
 */
enum phase { PH_WARMUP, PH_MEASURE, PH_STOP };
extern _Atomic int phase;
extern pthread_barrier_t start_barrier;

struct worker {
	pthread_t tid;
	char *region;		/* the pages this thread faults */
	/* results of the measured window */
	uint64_t faults;	/* kernel count: ru_minflt + ru_majflt */
	uint64_t touched;	/* pages the loop wrote */
	uint64_t nvcsw;		/* voluntary context switches: sleeps */
	uint64_t nivcsw;	/* involuntary ones: preemptions */
	double elapsed;
	/* --latency: reservoir of fault latencies */
	uint64_t *samples;
	size_t cap, nsamples;
	uint64_t seen, lat_max, rng;
	/* first error, reported by the main thread */
	const char *err;
	int errnum;
};

struct writer {
	pthread_t tid;
	char *region;		/* mprotect variant: the region it splits */
	char *guarded;		/* ... and its mapping with guard pages */
	uint64_t ops;
	double elapsed;
	/* measured window: the syscalls that take mmap_lock for writing */
	uint64_t calls;		/* how many */
	uint64_t call_ns;	/* time inside them, waiting included */
	uint64_t call_max_ns;	/* the longest */
	uint64_t nvcsw, nivcsw;
	const char *err;
	int errnum;
};

/* The clocks: inline, for they are read around a single fault. */
static inline double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

/* args.c */
void parse_args(int argc, char **argv);

/* common.c */
void sleep_seconds(double s);
int fail(const char **err, int *errnum, const char *what);
void thread_rusage(struct rusage *ru);
uint64_t fault_count(const struct rusage *ru);
uint64_t thread_faults(void);
int no_huge_pages(void *p, size_t len);
char *map_extra_vmas(char **base, size_t *len);

/* threads.c */
void __attribute__((noreturn)) die_unjoinable(void);
int run_threads(void);

/* report.c */
void print_result(const char *metric, const char *unit, double value,
		  uint64_t faults, uint64_t touched);
int measured_nothing(uint64_t faults, uint64_t pages, const char *done);
int report(struct worker *w, struct writer *wr, double warmup);

/* contended.c */
int make_data_file(void);
int alloc_samples(struct worker *w);
void touch_pages(struct worker *w, long np);
int read_pages(struct worker *w, long np);
int fault_round(struct worker *w, bool measured);

/* writer.c */
bool has_writer(void);
int map_writer_region(struct writer *wr);
void *writer_thread(void *arg);

/* churn.c */
int churn_pages(struct worker *w);

/* The scenarios that run on their own (path.c, page_fault.c, pft.c, procs.c). */
int run_path(void);
int run_wis(void);
int run_pft(void);
int run_procs(void);

#endif /* VMASHADOW_BENCH_H */
