// SPDX-License-Identifier: GPL-2.0
/*
 * vmashadow_bench: one page-fault benchmark scenario per invocation.
 *
 *   vmashadow_bench SCENARIO [--threads N] [--seconds S] [--pages P]
 *                            [--variant V] [--writer-pages W] [--latency]
 *                            [--vmas K] [--case C] [--rounds R]
 *                            [--counter auto|perf|clock] [--icount] [--mb M]
 *                            [--settle MS]
 *   vmashadow_bench --list   the scenarios, one a line
 *
 * Scenarios:
 *   contended      N threads fault their own private regions while a writer
 *                  thread churns the address space (variant munmap: mmap,
 *                  touch, munmap W pages; variant mprotect: flip the middle
 *                  half of a populated W-page region between RO and RW,
 *                  splitting and merging its VMA).
 *   uncontended    one faulting thread, no writer.
 *   scale          N threads fault disjoint slices of one large VMA.
 *   kernel-faults  N threads pread() a file into a freshly zapped buffer, so
 *                  the faults are taken in kernel mode by copy_to_user; plus
 *                  a writer, as for contended.
 *   churn          N threads (default 1) each mmap P pages, write them, munmap
 *                  them, repeat: the writer alone, whose cost an index pays
 *                  twice per VMA (it learns the VMA on its first fault and
 *                  forgets it when it is freed); --vmas K first maps K more
 *                  one-page VMAs and faults them, so the index is not tiny.
 *   path           one thread, what one fault costs in instructions (see
 *                  run_path()): case user (write faults), kernel (pread()
 *                  into a zapped buffer), newvma (the first fault of a fresh
 *                  VMA), churn (mmap, write, munmap), or all four, with K
 *                  (--vmas) other faulted one-page VMAs in the process.
 *   page_fault1    will-it-scale's: N tasks (--variant threads|processes)
 *                  each mmap M MiB of private anonymous memory, write one
 *                  byte per page, munmap, repeat; ops = pages written.
 *   page_fault2    the same on a private mapping of a tmpfs (memfd) file.
 *   page_fault3    the same on a shared mapping of a tmpfs (memfd) file.
 *   pft            mmtests' pft: N threads fault disjoint slices of one fresh
 *                  M MiB anonymous region, which is then unmapped; faults/s
 *                  over the time the threads spend faulting.
 *
 * Every fault loop writes one byte per page (a read fault would only map the
 * zero page), then zaps the pages with MADV_DONTNEED and starts over. Faults
 * are counted by the kernel (getrusage(RUSAGE_THREAD)), not by the loop: a
 * run whose kernel count is below half the pages it touched fails, because
 * a benchmark that silently measures nothing is worse than none.
 *
 * Output, one line per metric:
 *   RESULT scenario=S variant=V threads=N metric=M unit=U value=X
 *          faults=F touched=T
 * (path: variant=CASE-vmasK, metric insn_per_fault, or ns_per_fault when
 * the only counter is a real clock; page_fault*: ops_per_task_per_sec;
 * the others: faults_per_sec and more)
 * and one line of diagnostics on where the time went (see report_diag()):
 *   DIAG scenario=S variant=V threads=N key=value...
 * This program does not know about the vmashadow module: the wrapper script
 * switches modes around it.
 */
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

#define MAX_THREADS	1024		/* as scripts/bench.sh allows */
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
/* "all" is the four fault cases; procs and young are asked for by name. */
enum path_case { PC_USER, PC_KERNEL, PC_NEWVMA, PC_CHURN, PC_ALL, PC_PROCS,
		 PC_YOUNG };
enum counter { CNT_AUTO, CNT_PERF, CNT_CLOCK };

static const char *const scenario_names[] = {
	[SC_CONTENDED] = "contended",
	[SC_UNCONTENDED] = "uncontended",
	[SC_KERNEL_FAULTS] = "kernel-faults",
	[SC_SCALE] = "scale",
	[SC_CHURN] = "churn",
	[SC_PF1] = "page_fault1",
	[SC_PF2] = "page_fault2",
	[SC_PF3] = "page_fault3",
	[SC_PFT] = "pft",
	[SC_PATH] = "path",
	[SC_PROCS] = "procs",
};

static const char *const variant_names[] = {
	[V_NONE] = "-",
	[V_MUNMAP] = "munmap",
	[V_MPROTECT] = "mprotect",
	[V_THREADS] = "threads",
	[V_PROCESSES] = "processes",
	[V_FORK] = "fork",
	[V_EXIT] = "exit",
};

static const char *const case_names[] = {
	[PC_USER] = "user",
	[PC_KERNEL] = "kernel",
	[PC_NEWVMA] = "newvma",
	[PC_CHURN] = "churn",
	[PC_ALL] = "all",
	[PC_PROCS] = "procs",
	[PC_YOUNG] = "young",
};

static const char *const counter_names[] = {
	[CNT_AUTO] = "auto",
	[CNT_PERF] = "perf",
	[CNT_CLOCK] = "clock",
};

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

/*
 * The main thread moves every thread through the phases. Loops look at the
 * phase only between whole iterations, so a measured window always holds
 * whole touch+zap rounds and the fault count matches the pages touched.
 */
enum phase { PH_WARMUP, PH_MEASURE, PH_STOP };
static _Atomic int phase = PH_WARMUP;

static pthread_barrier_t start_barrier;
static struct config cfg;
static long page_size;
static int data_fd = -1;	/* kernel-faults: the file pread() reads */

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

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vmashadow_bench SCENARIO [--threads N] [--seconds S] [--pages P]\n"
		"                       [--variant V] [--writer-pages W] [--latency]\n"
		"                       [--vmas K] [--case C] [--rounds R]\n"
		"                       [--counter auto|perf|clock] [--icount] [--mb M]\n"
		"                       [--settle MS]\n"
		"       vmashadow_bench --list\n"
		"  SCENARIO    contended | uncontended | scale | kernel-faults | churn |\n"
		"              path | page_fault1 | page_fault2 | page_fault3 | pft |\n"
		"              procs\n"
		"  --list      print the scenarios, one a line\n"
		"  --threads   faulting threads (page_fault*: tasks), 1..%d (default 2;\n"
		"              uncontended, churn: 1; path: 1 only)\n"
		"  --seconds   measured time, %.2f..%.0f (default 2; plus a warm-up;\n"
		"              not for path, which counts --rounds)\n"
		"  --pages     4 KiB pages per thread, 1..%ld (default 256; churn:\n"
		"              pages per mapping, default %d; path: per round, default\n"
		"              %d for user and kernel, %d fresh VMAs for newvma, %d\n"
		"              pages per mapping for churn)\n"
		"  --variant   contended, kernel-faults: munmap (default) | mprotect;\n"
		"              page_fault*: threads (default) | processes; procs:\n"
		"              fork (default: --threads children at a time) | exit\n"
		"              (2000 children exit at once); others: -\n"
		"  --writer-pages  the writer's region, 2..%ld pages (default %d for\n"
		"              munmap, %d for mprotect)\n"
		"  --latency   per-fault latency percentiles (contended, uncontended)\n"
		"  --vmas      churn, path: first map and fault K one-page VMAs,\n"
		"              0..%ld (default 0; churn's variant is then vmasK; K\n"
		"              above ~32000 needs a higher vm.max_map_count)\n"
		"  --case      path: user | kernel | newvma | churn | all (default:\n"
		"              the four) | procs (fork, 16 faults, exit; --pages\n"
		"              processes a round, default 16) | young (a fresh\n"
		"              region's first %d ms, no --settle: as user, rounds\n"
		"              until then, each reported)\n"
		"  --rounds    path: measured rounds per case, 1..%ld (default %d;\n"
		"              plus one warm-up round)\n"
		"  --counter   path: perf (instructions, perf_event_open), clock\n"
		"              (CLOCK_MONOTONIC), auto (default: perf if it counts)\n"
		"  --icount    path: the clock counts instructions (QEMU -icount\n"
		"              shift=0): report a clock count as instructions\n"
		"  --mb        page_fault*: MiB per task (default %d); pft: MiB of the\n"
		"              region all threads share (default %d); 1..%ld\n"
		"  --settle    path: sleep MS ms (0..%ld, default 0) first, and in user\n"
		"              and kernel after the warm-up round, then run one more\n"
		"              warm-up round: an index that admits a process, or a\n"
		"              VMA, only after a delay then holds the region\n",
		MAX_THREADS, MIN_SECONDS, MAX_SECONDS, MAX_PAGES, CHURN_PAGES,
		PATH_PAGES, PATH_NEWVMAS, CHURN_PAGES,
		MAX_CHURN_PAGES, CHURN_PAGES, CHURN_PAGES_MPROTECT, MAX_VMAS,
		PATH_YOUNG_MS, MAX_ROUNDS, PATH_ROUNDS, WIS_MB, PFT_MB, MAX_MB,
		MAX_SETTLE_MS);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
bad_args(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vmashadow_bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	usage(stderr);
	exit(2);
}

/* A plain decimal integer in [min, max]: no sign, no spaces, no suffix. */
static bool parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	if ((*s < '0' || *s > '9') && *s != '.')
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v < MIN_SECONDS || v > MAX_SECONDS)
		return false;
	*out = v;
	return true;
}

static int lookup(const char *const *names, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(names[i], s))
			return i;
	return -1;
}

/* "--opt value" or "--opt=value"; returns the value, or NULL if not @opt. */
static const char *option_value(int argc, char **argv, int *i, const char *opt)
{
	size_t len = strlen(opt);
	const char *arg = argv[*i];

	if (strncmp(arg, opt, len))
		return NULL;
	if (arg[len] == '=')
		return arg + len + 1;
	if (arg[len])
		return NULL;
	if (*i + 1 >= argc)
		bad_args("%s needs a value", opt);
	return argv[++*i];
}

static void parse_args(int argc, char **argv)
{
	const char *variant = NULL, *v;
	bool threads_given = false, pages_given = false, seconds_given = false;
	long writer_pages = 0, vmas = -1, rounds = -1, mb = -1, settle = -1;
	int pcase = -1, counter = -1;
	bool icount = false;
	long n;
	int sc;

	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout);
		exit(0);
	}
	if (argc >= 2 && !strcmp(argv[1], "--list")) {
		if (argc > 2)
			bad_args("--list takes no other argument");
		for (int i = 0; i < ARRAY_SIZE(scenario_names); i++)
			printf("%s\n", scenario_names[i]);
		exit(0);
	}
	if (argc < 2)
		bad_args("missing SCENARIO");
	sc = lookup(scenario_names, ARRAY_SIZE(scenario_names), argv[1]);
	if (sc < 0)
		bad_args("unknown scenario '%s'", argv[1]);
	cfg = (struct config){ .scenario = sc, .threads = 2, .pages = 256,
			       .seconds = 2.0 };

	for (int i = 2; i < argc; i++) {
		if ((v = option_value(argc, argv, &i, "--threads"))) {
			if (!parse_long(v, 1, MAX_THREADS, &n))
				bad_args("bad --threads '%s'", v);
			cfg.threads = (int)n;
			threads_given = true;
		} else if ((v = option_value(argc, argv, &i, "--pages"))) {
			if (!parse_long(v, 1, MAX_PAGES, &n))
				bad_args("bad --pages '%s'", v);
			cfg.pages = n;
			pages_given = true;
		} else if ((v = option_value(argc, argv, &i, "--seconds"))) {
			if (!parse_seconds(v, &cfg.seconds))
				bad_args("bad --seconds '%s'", v);
			seconds_given = true;
		} else if ((v = option_value(argc, argv, &i, "--variant"))) {
			variant = v;
		} else if ((v = option_value(argc, argv, &i, "--writer-pages"))) {
			if (!parse_long(v, 2, MAX_CHURN_PAGES, &writer_pages))
				bad_args("bad --writer-pages '%s'", v);
		} else if ((v = option_value(argc, argv, &i, "--vmas"))) {
			if (!parse_long(v, 0, MAX_VMAS, &vmas))
				bad_args("bad --vmas '%s'", v);
		} else if ((v = option_value(argc, argv, &i, "--case"))) {
			pcase = lookup(case_names, ARRAY_SIZE(case_names), v);
			if (pcase < 0)
				bad_args("bad --case '%s'", v);
		} else if ((v = option_value(argc, argv, &i, "--rounds"))) {
			if (!parse_long(v, 1, MAX_ROUNDS, &rounds))
				bad_args("bad --rounds '%s'", v);
		} else if ((v = option_value(argc, argv, &i, "--counter"))) {
			counter = lookup(counter_names, ARRAY_SIZE(counter_names), v);
			if (counter < 0)
				bad_args("bad --counter '%s'", v);
		} else if ((v = option_value(argc, argv, &i, "--settle"))) {
			if (!parse_long(v, 0, MAX_SETTLE_MS, &settle))
				bad_args("bad --settle '%s'", v);
		} else if ((v = option_value(argc, argv, &i, "--mb"))) {
			if (!parse_long(v, 1, MAX_MB, &mb))
				bad_args("bad --mb '%s'", v);
		} else if (!strcmp(argv[i], "--icount")) {
			icount = true;
		} else if (!strcmp(argv[i], "--latency")) {
			cfg.latency = true;
		} else {
			bad_args("unknown argument '%s'", argv[i]);
		}
	}

	switch (cfg.scenario) {
	case SC_CONTENDED:
	case SC_KERNEL_FAULTS:
		cfg.variant = variant ? lookup(variant_names, ARRAY_SIZE(variant_names),
					       variant) : V_MUNMAP;
		if (cfg.variant != V_MUNMAP && cfg.variant != V_MPROTECT)
			bad_args("%s: bad --variant '%s'", argv[1], variant);
		break;
	case SC_PF1:
	case SC_PF2:
	case SC_PF3:
		cfg.variant = variant ? lookup(variant_names, ARRAY_SIZE(variant_names),
					       variant) : V_THREADS;
		if (cfg.variant != V_THREADS && cfg.variant != V_PROCESSES)
			bad_args("%s: bad --variant '%s' (threads or processes)",
				 argv[1], variant);
		break;
	case SC_PROCS:
		cfg.variant = variant ? lookup(variant_names, ARRAY_SIZE(variant_names),
					       variant) : V_FORK;
		if (cfg.variant != V_FORK && cfg.variant != V_EXIT)
			bad_args("procs: bad --variant '%s' (fork or exit)", variant);
		break;
	case SC_UNCONTENDED:
	case SC_SCALE:
	case SC_CHURN:
	case SC_PATH:
	case SC_PFT:
		cfg.variant = V_NONE;
		if (variant && strcmp(variant, "-"))
			bad_args("%s has no writer: bad --variant '%s'",
				 argv[1], variant);
		break;
	}
	if (writer_pages && cfg.variant == V_NONE)
		bad_args("%s has no writer: --writer-pages makes no sense",
			 argv[1]);
	cfg.writer_pages = writer_pages ? writer_pages :
			   cfg.variant == V_MPROTECT ? CHURN_PAGES_MPROTECT :
			   CHURN_PAGES;
	if (cfg.scenario == SC_UNCONTENDED) {
		if (threads_given && cfg.threads != 1)
			bad_args("uncontended: --threads must be 1");
		cfg.threads = 1;
	}
	if (vmas >= 0 && cfg.scenario != SC_CHURN && cfg.scenario != SC_PATH)
		bad_args("--vmas is for churn and path, not %s", argv[1]);
	if ((pcase >= 0 || rounds >= 0 || counter >= 0 || icount || settle >= 0) &&
	    cfg.scenario != SC_PATH)
		bad_args("--case, --rounds, --counter, --icount and --settle are for path, not %s",
			 argv[1]);
	if (mb >= 0 && cfg.scenario != SC_PF1 && cfg.scenario != SC_PF2 &&
	    cfg.scenario != SC_PF3 && cfg.scenario != SC_PFT)
		bad_args("--mb is for page_fault1..3 and pft, not %s", argv[1]);
	if (cfg.scenario == SC_PATH) {
		if (threads_given && cfg.threads != 1)
			bad_args("path: --threads must be 1");
		if (seconds_given)
			bad_args("path counts --rounds, not --seconds");
		if (cfg.latency)
			bad_args("--latency is for contended and uncontended, not path");
		cfg.threads = 1;
		cfg.vmas = vmas > 0 ? vmas : 0;
		cfg.pcase = pcase >= 0 ? pcase : PC_ALL;
		cfg.rounds = rounds > 0 ? rounds : PATH_ROUNDS;
		cfg.counter = counter >= 0 ? counter : CNT_AUTO;
		cfg.icount = icount;
		cfg.settle_ms = settle > 0 ? settle : 0;
		if (cfg.pcase == PC_YOUNG && (cfg.settle_ms || rounds >= 0))
			bad_args("path young runs for its region's first %d ms: no --settle, no --rounds",
				 PATH_YOUNG_MS);
		cfg.pages_given = pages_given;
		if (!pages_given)
			cfg.pages = PATH_PAGES;
	}
	if (cfg.scenario == SC_PF1 || cfg.scenario == SC_PF2 ||
	    cfg.scenario == SC_PF3)
		cfg.mb = mb > 0 ? mb : WIS_MB;
	if (cfg.scenario == SC_PFT) {
		cfg.mb = mb > 0 ? mb : PFT_MB;
		if ((cfg.mb << 20) / sysconf(_SC_PAGESIZE) < cfg.threads)
			bad_args("pft: --mb %ld is less than a page per thread", cfg.mb);
	}
	if (cfg.mb && (pages_given))
		bad_args("%s sizes its regions with --mb, not --pages", argv[1]);
	if (cfg.mb && cfg.threads * cfg.mb > 4 * MAX_MB)
		bad_args("--threads * --mb is too large");
	if (cfg.scenario == SC_CHURN) {
		if (!threads_given)
			cfg.threads = 1;
		if (!pages_given)
			cfg.pages = CHURN_PAGES;
		cfg.vmas = vmas > 0 ? vmas : 0;
	}
	if (cfg.vmas && cfg.scenario == SC_CHURN)
		snprintf(cfg.variant_name, sizeof(cfg.variant_name), "vmas%ld",
			 cfg.vmas);
	else
		snprintf(cfg.variant_name, sizeof(cfg.variant_name), "%s",
			 variant_names[cfg.variant]);
	if (cfg.latency && cfg.scenario != SC_CONTENDED &&
	    cfg.scenario != SC_UNCONTENDED)
		bad_args("--latency is for contended and uncontended, not %s",
			 argv[1]);
	if ((long)cfg.threads * cfg.pages > MAX_TOTAL_PAGES)
		bad_args("--threads * --pages is too large");
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

static void sleep_seconds(double s)
{
	struct timespec ts = {
		.tv_sec = (time_t)s,
		.tv_nsec = (long)((s - (double)(time_t)s) * 1e9),
	};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Record the first error of a thread and stop everybody. */
static int fail(const char **err, int *errnum, const char *what)
{
	*err = what;
	*errnum = errno;
	atomic_store(&phase, PH_STOP);
	return -1;
}

static void thread_rusage(struct rusage *ru)
{
	/* RUSAGE_THREAD cannot fail with a valid buffer; be loud if it does. */
	if (getrusage(RUSAGE_THREAD, ru)) {
		perror("getrusage");
		exit(1);
	}
}

static uint64_t fault_count(const struct rusage *ru)
{
	return (uint64_t)ru->ru_minflt + (uint64_t)ru->ru_majflt;
}

/*
 * MADV_NOHUGEPAGE keeps the fault count at one per 4 KiB page. A kernel
 * built without THP rejects the advice with EINVAL: there is nothing to
 * disable then.
 */
static int no_huge_pages(void *p, size_t len)
{
	if (madvise(p, len, MADV_NOHUGEPAGE) && errno != EINVAL) {
		perror("madvise(MADV_NOHUGEPAGE)");
		return -1;
	}
	return 0;
}

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

/*
 * churn --vmas K: K one-page VMAs, each written once (so an index learns
 * it), between PROT_NONE pages so that none merge.
 */
static char *map_extra_vmas(char **base, size_t *len)
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

static unsigned char pattern(long page)
{
	return (unsigned char)(page % 251 + 1);	/* never 0: the zero page must not pass */
}

/* kernel-faults: an unlinked temp file of cfg.pages pages of pattern(). */
static int make_data_file(void)
{
	char path[] = "/tmp/vmashadow_bench.XXXXXX";
	char *buf;
	int fd;

	fd = mkstemp(path);
	if (fd < 0) {
		perror("mkstemp");
		return -1;
	}
	if (unlink(path)) {
		perror("unlink");
		close(fd);
		return -1;
	}
	buf = malloc(page_size);
	if (!buf) {
		perror("malloc");
		close(fd);
		return -1;
	}
	for (long i = 0; i < cfg.pages; i++) {
		memset(buf, pattern(i), page_size);
		if (pwrite(fd, buf, page_size, i * page_size) != page_size) {
			perror("pwrite(data file)");
			free(buf);
			close(fd);
			return -1;
		}
	}
	free(buf);
	return fd;
}

static uint64_t xorshift64(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Reservoir sampling: every fault has the same chance to be kept. */
static void record_latency(struct worker *w, uint64_t ns)
{
	uint64_t j;

	if (ns > w->lat_max)
		w->lat_max = ns;
	if (w->nsamples < w->cap) {
		w->samples[w->nsamples++] = ns;
	} else {
		j = xorshift64(&w->rng) % (w->seen + 1);
		if (j < w->cap)
			w->samples[j] = ns;
	}
	w->seen++;
}

static void touch_pages(struct worker *w)
{
	volatile char *p = w->region;

	for (long i = 0; i < cfg.pages; i++)
		p[i * page_size] = 1;
}

static void touch_pages_timed(struct worker *w)
{
	volatile char *p = w->region;
	uint64_t t0;

	for (long i = 0; i < cfg.pages; i++) {
		t0 = now_ns();
		p[i * page_size] = 1;
		record_latency(w, now_ns() - t0);
	}
}

/* Fill the zapped buffer from the file: copy_to_user takes the faults. */
static int read_pages(struct worker *w)
{
	size_t len = cfg.pages * page_size, done = 0;
	ssize_t n;

	while (done < len) {
		n = pread(data_fd, w->region + done, len - done, done);
		if (n < 0)
			return fail(&w->err, &w->errnum, "pread");
		if (n == 0) {
			errno = EIO;
			return fail(&w->err, &w->errnum, "pread: short file");
		}
		done += n;
	}
	for (long i = 0; i < cfg.pages; i++) {
		if ((unsigned char)w->region[i * page_size] != pattern(i)) {
			errno = EIO;
			return fail(&w->err, &w->errnum, "pread: wrong data");
		}
	}
	return 0;
}

/*
 * churn: a fresh mapping, every page written, unmapped. Always in the
 * thread's own hole between two PROT_NONE pages, so it never merges with a
 * neighbour and every run does the same work.
 */
static int churn_pages(struct worker *w)
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

/* One round over the thread's pages; @measured counts it and times it. */
static int fault_round(struct worker *w, bool measured)
{
	size_t len = cfg.pages * page_size;

	if (cfg.scenario == SC_CHURN) {
		if (churn_pages(w))
			return -1;
	} else if (cfg.scenario == SC_KERNEL_FAULTS) {
		if (madvise(w->region, len, MADV_DONTNEED))
			return fail(&w->err, &w->errnum, "madvise(MADV_DONTNEED)");
		if (read_pages(w))
			return -1;
	} else {
		if (measured && cfg.latency)
			touch_pages_timed(w);
		else
			touch_pages(w);
		if (madvise(w->region, len, MADV_DONTNEED))
			return fail(&w->err, &w->errnum, "madvise(MADV_DONTNEED)");
	}
	if (measured)
		w->touched += cfg.pages;
	return 0;
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

static void *writer_thread(void *arg)
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
static int map_writer_region(struct writer *wr)
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

static bool has_writer(void)
{
	return cfg.scenario == SC_CONTENDED || cfg.scenario == SC_KERNEL_FAULTS;
}

/*
 * Sample buffers are allocated and written before the run: a first write
 * to one of their pages during the measured window would be a fault too.
 */
static int alloc_samples(struct worker *w)
{
	long cap = LAT_SAMPLES / cfg.threads;

	if (cap < MIN_LAT_SAMPLES)
		cap = MIN_LAT_SAMPLES;
	for (int i = 0; i < cfg.threads; i++) {
		w[i].samples = malloc(cap * sizeof(*w[i].samples));
		if (!w[i].samples) {
			perror("malloc(samples)");
			return -1;
		}
		memset(w[i].samples, 0, cap * sizeof(*w[i].samples));
		w[i].cap = cap;
		w[i].rng = 0x9e3779b97f4a7c15ull * (i + 1);
	}
	return 0;
}

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

static void print_result(const char *metric, const char *unit, double value,
			 uint64_t faults, uint64_t touched)
{
	printf("RESULT scenario=%s variant=%s threads=%d metric=%s unit=%s value=%.2f faults=%llu touched=%llu\n",
	       scenario_names[cfg.scenario], cfg.variant_name,
	       cfg.threads, metric, unit, value, (unsigned long long)faults,
	       (unsigned long long)touched);
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
static int report(struct worker *w, struct writer *wr, double warmup)
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
	if (!faults || faults * 2 < touched) {
		fflush(stdout);
		fprintf(stderr,
			"vmashadow_bench: the kernel counted %llu faults for %llu pages touched: this run measured nothing\n",
			(unsigned long long)faults, (unsigned long long)touched);
		return 1;
	}
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
static void __attribute__((noreturn)) die_unjoinable(void)
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

/* --- path: what one fault costs, in instructions ---------------------------- */

static int perf_fd = -1;	/* path: the instruction counter, if it works */

static long perf_open_instructions(void)
{
	struct perf_event_attr a;

	memset(&a, 0, sizeof(a));
	a.type = PERF_TYPE_HARDWARE;
	a.size = sizeof(a);
	a.config = PERF_COUNT_HW_INSTRUCTIONS;
	a.exclude_user = 0;
	a.exclude_kernel = 0;	/* the fault handler is the point */
	a.exclude_hv = 1;
	a.pinned = 1;		/* never multiplexed: counts all or nothing */
	return syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
}

static uint64_t perf_read(void)
{
	uint64_t v;

	if (read(perf_fd, &v, sizeof(v)) != sizeof(v)) {
		/* a pinned event that lost its counter reads as EOF */
		fprintf(stderr, "vmashadow_bench: reading the instruction counter failed\n");
		exit(1);
	}
	return v;
}

/*
 * An instruction counter that counts: it opens, reads, and counts at least
 * the instructions of a loop of known length, user and kernel alike.
 * Returns false (with the reason on stderr) if not.
 */
static bool perf_works(void)
{
	volatile unsigned long sink = 0;
	uint64_t a, b, v;
	long fd;

	fd = perf_open_instructions();
	if (fd < 0) {
		fprintf(stderr, "# perf_event_open(PERF_COUNT_HW_INSTRUCTIONS): %s\n",
			strerror(errno));
		return false;
	}
	perf_fd = (int)fd;
	if (read(perf_fd, &a, sizeof(a)) != sizeof(a))
		goto broken;
	for (unsigned long i = 0; i < 100000; i++)
		sink += i;
	getppid();	/* and a syscall: kernel instructions must count too */
	if (read(perf_fd, &b, sizeof(b)) != sizeof(b) || b - a < 100000)
		goto broken;
	/* the kernel part: a syscall alone must count more than a few */
	a = b;
	getppid();
	if (read(perf_fd, &v, sizeof(v)) != sizeof(v) || v - a < 50)
		goto broken;
	return true;
broken:
	fprintf(stderr, "# the instruction counter opens but does not count\n");
	close(perf_fd);
	perf_fd = -1;
	return false;
}

static uint64_t count_now(void)
{
	return perf_fd >= 0 ? perf_read() : now_ns();
}

static const char *counter_label(void)
{
	return perf_fd >= 0 ? "perf" : cfg.icount ? "icount" : "clock";
}

static uint64_t thread_faults(void)
{
	struct rusage ru;

	thread_rusage(&ru);
	return fault_count(&ru);
}

/* One case's sums over its measured rounds. */
struct path_sum {
	uint64_t faults, touched;
	uint64_t units;		/* what the count is divided by: faults, or processes */
	uint64_t count;		/* the timed loops, faults and all */
	uint64_t base;		/* the same loops without faults */
	double min, max;	/* per unit, over the rounds */
	long rounds;		/* measured */
	const char *err;
	int errnum;
};

static void path_round_per(struct path_sum *ps, bool measured, uint64_t count,
			   uint64_t base, uint64_t faults, uint64_t touched,
			   uint64_t units)
{
	double per;

	if (!measured)
		return;
	ps->count += count;
	ps->base += base;
	ps->faults += faults;
	ps->touched += touched;
	ps->units += units;
	ps->rounds++;
	per = units ? ((double)count - (double)base) / units : 0;
	if (ps->units == units || per < ps->min)
		ps->min = per;
	if (ps->units == units || per > ps->max)
		ps->max = per;
}

/* A round of a fault case: the count per fault. */
static void path_round(struct path_sum *ps, bool measured, uint64_t count,
		       uint64_t base, uint64_t faults, uint64_t touched)
{
	path_round_per(ps, measured, count, base, faults, touched, faults);
}

static int path_fail(struct path_sum *ps, const char *what)
{
	ps->err = what;
	ps->errnum = errno;
	return -1;
}

/* PROT_NONE reservation of @n pages; the caller opens what it uses. */
static char *reserve(long n)
{
	char *p = mmap(NULL, n * page_size, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* One timed pass of path user or kernel over the region; @count its cost. */
static int path_pass(struct path_sum *ps, char *region, bool kernel,
		     uint64_t *count)
{
	struct worker w = { .region = region };
	uint64_t c0;

	c0 = count_now();
	if (kernel) {
		if (read_pages(&w)) {
			errno = w.errnum;
			return path_fail(ps, w.err);
		}
	} else {
		touch_pages(&w);
	}
	*count = count_now() - c0;
	return 0;
}

/*
 * user: write one byte per page of a private region (the faults), then the
 * same loop over the now present pages (no faults: the loop's own cost,
 * subtracted), then zap with MADV_DONTNEED, untimed.
 * kernel: the same with pread() into the region: copy_to_user() faults.
 * With --settle, the warm-up round is followed by a sleep and a second
 * warm-up round: the region's VMA then has missed twice, the admission
 * window apart, as a hot VMA of a long-running process has.
 */
static int path_user_kernel(struct path_sum *ps, bool kernel)
{
	long np = cfg.pages;
	size_t len = np * page_size;
	char *guard, *region;
	int ret = -1;

	guard = reserve(np + 2);
	if (!guard)
		return path_fail(ps, "mmap(region)");
	region = guard + page_size;
	if (mprotect(region, len, PROT_READ | PROT_WRITE)) {
		path_fail(ps, "mprotect(region)");
		goto out;
	}
	if (no_huge_pages(region, len)) {
		path_fail(ps, "madvise(MADV_NOHUGEPAGE)");
		goto out;
	}
	if (kernel) {
		data_fd = make_data_file();
		if (data_fd < 0) {
			path_fail(ps, "the data file");
			goto out;
		}
	}
	for (long r = cfg.settle_ms ? -1 : 0; r <= cfg.rounds; r++) {
		uint64_t f0, f1, f2, c, b;

		if (r == 0 && cfg.settle_ms)
			sleep_seconds((double)cfg.settle_ms / 1000);
		if (madvise(region, len, MADV_DONTNEED)) {
			path_fail(ps, "madvise(MADV_DONTNEED)");
			goto out;
		}
		f0 = thread_faults();
		if (path_pass(ps, region, kernel, &c))
			goto out;
		f1 = thread_faults();
		if (path_pass(ps, region, kernel, &b))
			goto out;
		f2 = thread_faults();
		if (f2 != f1) {
			errno = EAGAIN;
			path_fail(ps, "the loop over present pages faulted: no baseline");
			goto out;
		}
		path_round(ps, r > 0, c, b, f1 - f0, np);
	}
	ret = 0;
out:
	if (data_fd >= 0) {
		close(data_fd);
		data_fd = -1;
	}
	munmap(guard, (np + 2) * page_size);
	return ret;
}

/*
 * newvma: map N fresh one-page VMAs (untimed), each in its own hole between
 * PROT_NONE pages so that none merges, write to each (the first fault of
 * a VMA: an index misses and learns it), then the same loop again (no
 * faults: subtracted), then unmap them (untimed).
 */
static int path_newvma(struct path_sum *ps)
{
	long n = cfg.pages_given ? cfg.pages : PATH_NEWVMAS;
	char *base;
	int ret = -1;

	base = reserve(2 * n + 1);
	if (!base)
		return path_fail(ps, "mmap(reservation)");
	for (long i = 0; i < n; i++) {
		if (munmap(base + (2 * i + 1) * page_size, page_size)) {
			path_fail(ps, "munmap(hole)");
			goto out;
		}
	}
	for (long r = 0; r <= cfg.rounds; r++) {
		uint64_t f0, f1, f2, c0, c1, b0, b1;

		for (long i = 0; i < n; i++) {
			char *want = base + (2 * i + 1) * page_size;
			char *p = mmap(want, page_size, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS |
				       MAP_FIXED_NOREPLACE, -1, 0);

			if (p == MAP_FAILED) {
				path_fail(ps, "mmap(fresh VMA)");
				goto out;
			}
			if (p != want) {
				errno = EEXIST;
				munmap(p, page_size);
				path_fail(ps, "mmap placed the fresh VMA elsewhere");
				goto out;
			}
		}
		f0 = thread_faults();
		c0 = count_now();
		for (long i = 0; i < n; i++)
			((volatile char *)base)[(2 * i + 1) * page_size] = 1;
		c1 = count_now();
		f1 = thread_faults();
		b0 = count_now();
		for (long i = 0; i < n; i++)
			((volatile char *)base)[(2 * i + 1) * page_size] = 1;
		b1 = count_now();
		f2 = thread_faults();
		for (long i = 0; i < n; i++) {
			if (munmap(base + (2 * i + 1) * page_size, page_size)) {
				path_fail(ps, "munmap(fresh VMA)");
				goto out;
			}
		}
		if (f2 != f1) {
			errno = EAGAIN;
			path_fail(ps, "the loop over present pages faulted: no baseline");
			goto out;
		}
		path_round(ps, r > 0, c1 - c0, b1 - b0, f1 - f0, n);
	}
	ret = 0;
out:
	munmap(base, (2 * n + 1) * page_size);
	return ret;
}

/*
 * churn: mmap P pages into a hole between PROT_NONE pages, write one byte
 * per page, munmap, all timed: the cost per fault includes the mmap() and
 * the munmap() (whose zap and free the faults make necessary). Only the
 * counter's own cost (two reads back to back) is subtracted.
 */
static int path_churn(struct path_sum *ps)
{
	long np = cfg.pages_given ? cfg.pages : CHURN_PAGES;
	size_t len = np * page_size;
	char *guard, *hole;
	int ret = -1;

	guard = reserve(np + 2);
	if (!guard)
		return path_fail(ps, "mmap(reservation)");
	hole = guard + page_size;
	if (munmap(hole, len)) {
		path_fail(ps, "munmap(hole)");
		goto out;
	}
	for (long r = 0; r <= cfg.rounds; r++) {
		uint64_t f0, f1, c0, c1, b0, b1;
		char *p;

		f0 = thread_faults();
		c0 = count_now();
		p = mmap(hole, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		if (p == MAP_FAILED) {
			path_fail(ps, "churn: mmap");
			goto out;
		}
		if (p != hole) {
			errno = EEXIST;
			munmap(p, len);
			path_fail(ps, "churn: mmap placed elsewhere");
			goto out;
		}
		for (long i = 0; i < np; i++)
			((volatile char *)p)[i * page_size] = 1;
		if (munmap(p, len)) {
			path_fail(ps, "churn: munmap");
			goto out;
		}
		c1 = count_now();
		f1 = thread_faults();
		b0 = count_now();
		b1 = count_now();
		path_round(ps, r > 0, c1 - c0, b1 - b0, f1 - f0, np);
	}
	ret = 0;
out:
	munmap(guard, (np + 2) * page_size);
	return ret;
}

/* A short-lived process: write one byte to each of PROC_PAGES fresh pages. */
static int proc_child(void)
{
	char *p = mmap(NULL, PROC_PAGES * page_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return 1;
	for (long i = 0; i < PROC_PAGES; i++)
		((volatile char *)p)[i * page_size] = 1;
	return 0;
}

/*
 * procs: fork a child that writes PROC_PAGES fresh pages and exits, and
 * reap it, N times a round (--pages N, default PATH_PROCS): what a
 * short-lived process costs, fork to reaped, per process. The count must
 * cover the children too, so this needs the whole guest's counter (the
 * clock under -icount), not perf's, which counts this thread. The
 * children's faults are counted (RUSAGE_CHILDREN): as in every case, fewer
 * than half the pages written fails the run.
 */
static int path_procs(struct path_sum *ps)
{
	long n = cfg.pages_given ? cfg.pages : PATH_PROCS;

	if (perf_fd >= 0) {
		errno = EOPNOTSUPP;
		return path_fail(ps, "procs needs the whole machine's count (-icount), perf counts this thread");
	}
	for (long r = 0; r <= cfg.rounds; r++) {
		uint64_t c0, c1, b0, b1, f;
		struct rusage ru0, ru1;

		getrusage(RUSAGE_CHILDREN, &ru0);
		c0 = count_now();
		for (long i = 0; i < n; i++) {
			pid_t pid = fork();
			int st;

			if (pid < 0)
				return path_fail(ps, "procs: fork");
			if (!pid)
				_exit(proc_child());
			if (waitpid(pid, &st, 0) != pid)
				return path_fail(ps, "procs: waitpid");
			if (!WIFEXITED(st) || WEXITSTATUS(st)) {
				errno = ECHILD;
				return path_fail(ps, "procs: a child failed");
			}
		}
		c1 = count_now();
		getrusage(RUSAGE_CHILDREN, &ru1);
		b0 = count_now();
		b1 = count_now();
		f = fault_count(&ru1) - fault_count(&ru0);
		path_round_per(ps, r > 0, c1 - c0, b1 - b0, f, n * PROC_PAGES, n);
	}
	return 0;
}

/*
 * young: what a process pays while its index is still learning. Right after
 * the other VMAs are mapped (run_path(), no --settle), map a fresh region
 * of --pages pages and, for PATH_YOUNG_MS from then, do what user does: a
 * round writes a byte per page (the faults), the same loop again (no
 * faults: subtracted), then zaps. Every round counts, the first included,
 * and each is printed with its time since the region was mapped: the
 * region's misses (probation, admit_ms) fall into its first rounds. Under
 * -icount the window is 50 M instructions, so it holds the same rounds in
 * every mode's run only if the modes cost alike: the rounds and faults are
 * printed with the result.
 */
static int path_young(struct path_sum *ps)
{
	long np = cfg.pages;
	size_t len = np * page_size;
	uint64_t t0 = now_ns();
	char *guard, *region;
	int ret = -1;

	guard = reserve(np + 2);
	if (!guard)
		return path_fail(ps, "mmap(region)");
	region = guard + page_size;
	if (mprotect(region, len, PROT_READ | PROT_WRITE)) {
		path_fail(ps, "mprotect(region)");
		goto out;
	}
	if (no_huge_pages(region, len)) {
		path_fail(ps, "madvise(MADV_NOHUGEPAGE)");
		goto out;
	}
	for (long r = 0; r == 0 || now_ns() - t0 < PATH_YOUNG_MS * 1000000ull; r++) {
		uint64_t f0, f1, f2, c, b, at = now_ns() - t0;

		f0 = thread_faults();
		if (path_pass(ps, region, false, &c))
			goto out;
		f1 = thread_faults();
		if (path_pass(ps, region, false, &b))
			goto out;
		f2 = thread_faults();
		if (f2 != f1) {
			errno = EAGAIN;
			path_fail(ps, "the loop over present pages faulted: no baseline");
			goto out;
		}
		path_round(ps, true, c, b, f1 - f0, np);
		printf("# path young round %ld at %.3f ms: %.1f per fault, %llu faults\n",
		       r, (double)at / 1e6, f1 > f0 ? ((double)c - (double)b) / (f1 - f0) : 0.0,
		       (unsigned long long)(f1 - f0));
		if (madvise(region, len, MADV_DONTNEED)) {
			path_fail(ps, "madvise(MADV_DONTNEED)");
			goto out;
		}
	}
	ret = 0;
out:
	munmap(guard, (np + 2) * page_size);
	return ret;
}

static int path_case(enum path_case pc)
{
	struct path_sum ps = { 0 };
	const char *unit = perf_fd >= 0 || cfg.icount ? "insn" : "ns";
	char variant[48];
	double per;
	int err;

	switch (pc) {
	case PC_USER:
		err = path_user_kernel(&ps, false);
		break;
	case PC_KERNEL:
		err = path_user_kernel(&ps, true);
		break;
	case PC_NEWVMA:
		err = path_newvma(&ps);
		break;
	case PC_PROCS:
		err = path_procs(&ps);
		break;
	case PC_YOUNG:
		err = path_young(&ps);
		break;
	default:
		err = path_churn(&ps);
		break;
	}
	snprintf(variant, sizeof(variant), "%s-vmas%ld", case_names[pc], cfg.vmas);
	if (err) {
		fprintf(stderr, "vmashadow_bench: path %s: %s: %s\n", variant,
			ps.err, strerror(ps.errnum));
		return 1;
	}
	printf("# path %s counter=%s rounds=%ld: %llu faults counted by the kernel for %llu touched; %llu %s in the timed loops, %llu in the same loops without faults\n",
	       variant, counter_label(), ps.rounds,
	       (unsigned long long)ps.faults, (unsigned long long)ps.touched,
	       (unsigned long long)ps.count, unit, (unsigned long long)ps.base);
	if (!ps.faults || ps.faults * 2 < ps.touched) {
		fflush(stdout);
		fprintf(stderr,
			"vmashadow_bench: path %s: the kernel counted %llu faults for %llu touched: this run measured nothing\n",
			variant, (unsigned long long)ps.faults,
			(unsigned long long)ps.touched);
		return 1;
	}
	per = ((double)ps.count - (double)ps.base) / ps.units;
	printf("# path %s: %.1f %s per %s (rounds: min %.1f, max %.1f)\n",
	       variant, per, unit, pc == PC_PROCS ? "process" : "fault",
	       ps.min, ps.max);
	printf("RESULT scenario=path variant=%s threads=1 metric=%s_per_%s unit=%s value=%.2f faults=%llu touched=%llu\n",
	       variant, perf_fd >= 0 || cfg.icount ? "insn" : "ns",
	       pc == PC_PROCS ? "proc" : "fault",
	       unit, per, (unsigned long long)ps.faults,
	       (unsigned long long)ps.touched);
	fflush(stdout);
	return 0;
}

/*
 * path: one thread, no other load; for each case one warm-up round and
 * --rounds measured ones, the counter read around the faulting loop and
 * around the same loop without faults (except churn, see path_churn()).
 * Under QEMU -icount shift=0 the guest's CLOCK_MONOTONIC advances 1 ns per
 * instruction executed (user, kernel, interrupts: all the guest's), so the
 * clock is an instruction counter; with a PMU, perf counts them.
 */
static int run_path(void)
{
	char *extra = NULL;
	size_t extra_len = 0;
	int ret = 0;

	switch (cfg.counter) {
	case CNT_PERF:
		if (!perf_works()) {
			fprintf(stderr, "vmashadow_bench: --counter perf: no working instruction counter\n");
			return 1;
		}
		break;
	case CNT_AUTO:
		perf_works();
		break;
	case CNT_CLOCK:
		break;
	}
	printf("# path counter=%s vmas=%ld settle_ms=%ld\n", counter_label(),
	       cfg.vmas, cfg.settle_ms);
	/* An index may wait for a process to age before it makes one. */
	if (cfg.settle_ms)
		sleep_seconds((double)cfg.settle_ms / 1000);
	if (cfg.vmas && !map_extra_vmas(&extra, &extra_len)) {
		if (extra)
			munmap(extra, extra_len);
		return 1;
	}
	if (cfg.pcase == PC_PROCS || cfg.pcase == PC_YOUNG)
		ret = path_case(cfg.pcase);
	for (int pc = PC_USER; pc < PC_ALL; pc++)
		if (cfg.pcase == PC_ALL || cfg.pcase == (enum path_case)pc)
			ret |= path_case(pc);
	if (extra && munmap(extra, extra_len)) {
		perror("munmap(extra VMAs)");
		ret = 1;
	}
	if (perf_fd >= 0)
		close(perf_fd);
	return ret;
}

/* --- will-it-scale page_fault1..3 ---------------------------------------- */

enum wis_phase { WP_WAIT, WP_WARMUP, WP_MEASURE, WP_STOP };

struct wis_slot {
	uint64_t ops, faults;	/* in the measured window */
	double elapsed;
	const char *err;	/* a string literal: valid in the parent too */
	int errnum;
	bool done;
} __attribute__((aligned(64)));

/* Shared with the tasks, processes included (MAP_SHARED). */
struct wis_shared {
	_Atomic int phase;
	_Atomic int ready;
	char pad[56];
	struct wis_slot slot[];
};

static struct wis_shared *wis;

static void wis_fail(struct wis_slot *s, const char *what)
{
	s->err = what;
	s->errnum = errno;
}

/*
 * One task, as will-it-scale's testcase(): mmap, write one byte per page
 * (counting each as an op), munmap, forever. The phase is looked at after
 * every page, so a task's window starts and ends at a page and its fault
 * count (getrusage) covers exactly the ops it counts.
 */
static void wis_task(int idx)
{
	struct wis_slot *s = &wis->slot[idx];
	size_t len = (size_t)cfg.mb << 20;
	long npages = len / page_size;
	int seen = WP_WARMUP, flags = MAP_PRIVATE, fd = -1;
	uint64_t ops = 0, ops0 = 0, f0 = 0;
	double t0 = 0;

	if (cfg.scenario != SC_PF1) {
		/* will-it-scale uses a file in /tmp; here tmpfs for sure */
		fd = memfd_create("vmashadow_bench", MFD_CLOEXEC);
		if (fd < 0)
			wis_fail(s, "memfd_create");
		else if (ftruncate(fd, len))
			wis_fail(s, "ftruncate");
		if (cfg.scenario == SC_PF3)
			flags = MAP_SHARED;
	} else {
		flags |= MAP_ANONYMOUS;
	}
	atomic_fetch_add(&wis->ready, 1);
	while (atomic_load(&wis->phase) == WP_WAIT)
		sleep_seconds(0.001);
	if (s->err)
		goto out;

	while (seen != WP_STOP) {
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, 0);

		if (p == MAP_FAILED) {
			wis_fail(s, "mmap");
			goto out;
		}
		if (no_huge_pages(p, len)) {
			wis_fail(s, "madvise(MADV_NOHUGEPAGE)");
			munmap(p, len);
			goto out;
		}
		for (long i = 0; i < npages; i++) {
			int ph;

			((volatile char *)p)[i * page_size] = 0;
			ops++;
			ph = atomic_load_explicit(&wis->phase, memory_order_relaxed);
			if (ph == seen)
				continue;
			if (seen == WP_WARMUP) {	/* to MEASURE or STOP */
				ops0 = ops;
				f0 = thread_faults();
				t0 = now();
			}
			if (ph == WP_STOP) {
				s->ops = ops - ops0;
				s->faults = thread_faults() - f0;
				s->elapsed = now() - t0;
				seen = WP_STOP;
				break;
			}
			seen = ph;
		}
		if (munmap(p, len)) {
			wis_fail(s, "munmap");
			goto out;
		}
	}
out:
	if (fd >= 0)
		close(fd);
	s->done = true;
}

static void *wis_thread(void *arg)
{
	wis_task((int)(intptr_t)arg);
	return NULL;
}

static int run_wis(void)
{
	size_t shlen = sizeof(*wis) + cfg.threads * sizeof(struct wis_slot);
	bool procs = cfg.variant == V_PROCESSES;
	pthread_t *tids = NULL;
	pid_t *pids = NULL;
	uint64_t ops = 0, faults = 0;
	double per_task = 0, warmup = cfg.seconds / 10, t0;
	int started = 0, ret = 1;

	if (warmup < MIN_WARMUP)
		warmup = MIN_WARMUP;
	wis = mmap(NULL, shlen, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (wis == MAP_FAILED) {
		perror("mmap(shared)");
		return 1;
	}
	tids = calloc(cfg.threads, sizeof(*tids));
	pids = calloc(cfg.threads, sizeof(*pids));
	if (!tids || !pids) {
		perror("calloc");
		goto out;
	}
	fflush(stdout);
	for (; started < cfg.threads; started++) {
		if (procs) {
			pid_t pid = fork();

			if (pid < 0) {
				perror("fork");
				break;
			}
			if (!pid) {
				wis_task(started);
				_exit(0);
			}
			pids[started] = pid;
		} else {
			int err = pthread_create(&tids[started], NULL, wis_thread,
						 (void *)(intptr_t)started);

			if (err) {
				errno = err;
				perror("pthread_create");
				break;
			}
		}
	}
	/* Every task that started gets to its end, even after a failure. */
	t0 = now();
	while (atomic_load(&wis->ready) < started && now() - t0 < 60)
		sleep_seconds(0.001);
	atomic_store(&wis->phase, WP_WARMUP);
	if (started == cfg.threads && atomic_load(&wis->ready) == started) {
		sleep_seconds(warmup);
		atomic_store(&wis->phase, WP_MEASURE);
		sleep_seconds(cfg.seconds);
	}
	atomic_store(&wis->phase, WP_STOP);
	for (int i = 0; i < started; i++) {
		if (procs) {
			int status;

			if (waitpid(pids[i], &status, 0) < 0) {
				perror("waitpid");
				goto out;
			}
			if (!WIFEXITED(status) || WEXITSTATUS(status)) {
				fprintf(stderr, "vmashadow_bench: task %d died (status %#x)\n",
					i, status);
				goto out;
			}
		} else {
			pthread_join(tids[i], NULL);
		}
	}
	if (started < cfg.threads)
		goto out;
	for (int i = 0; i < cfg.threads; i++) {
		struct wis_slot *s = &wis->slot[i];

		if (s->err || !s->done) {
			fprintf(stderr, "vmashadow_bench: task %d: %s: %s\n", i,
				s->err ? s->err : "did not finish",
				s->err ? strerror(s->errnum) : "");
			goto out;
		}
		ops += s->ops;
		faults += s->faults;
		if (s->elapsed > 0)
			per_task += s->ops / s->elapsed;
	}
	per_task /= cfg.threads;
	printf("# %s variant=%s tasks=%d mb=%ld seconds=%.2f warmup=%.2f: %llu faults counted by the kernel for %llu pages written (ops)\n",
	       scenario_names[cfg.scenario], cfg.variant_name, cfg.threads,
	       cfg.mb, cfg.seconds, warmup, (unsigned long long)faults,
	       (unsigned long long)ops);
	if (!faults || faults * 2 < ops) {
		fflush(stdout);
		fprintf(stderr,
			"vmashadow_bench: the kernel counted %llu faults for %llu pages written: this run measured nothing\n",
			(unsigned long long)faults, (unsigned long long)ops);
		goto out;
	}
	printf("# %.0f ops per task per second\n", per_task);
	print_result("ops_per_task_per_sec", "ops/s", per_task, faults, ops);
	ret = 0;
out:
	free(tids);
	free(pids);
	munmap(wis, shlen);
	return ret;
}

/* --- mmtests pft ------------------------------------------------------------ */

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
static int run_pft(void)
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
	if (!faults || faults * 2 < touched || busy <= 0) {
		fflush(stdout);
		fprintf(stderr,
			"vmashadow_bench: the kernel counted %llu faults for %llu pages touched: this run measured nothing\n",
			(unsigned long long)faults, (unsigned long long)touched);
		return 1;
	}
	printf("# %.0f faults/s\n", faults / busy);
	print_result("faults_per_sec", "faults/s", faults / busy, faults, touched);
	return 0;
}

/*
 * procs: what the per-process state of a fault hook costs when processes
 * come and go. "fork": batches of --threads children, each faulting
 * PROCS_PAGES fresh pages and exiting, for --seconds (procs_per_sec).
 * "exit": MASS_EXIT_PROCS children fault their pages and wait; then all
 * exit at once and are reaped (exits_per_sec). Faults are counted with
 * RUSAGE_CHILDREN: a run whose children did not fault measured nothing.
 */
#define PROCS_PAGES	16
#define MASS_EXIT_PROCS	2000

static void procs_child(char *region, int ready_fd, int go_fd)
{
	char c = 1;

	for (int i = 0; i < PROCS_PAGES; i++)
		region[(size_t)i * page_size] = (char)i;
	if (ready_fd >= 0 && write(ready_fd, &c, 1) != 1)
		_exit(1);
	if (go_fd >= 0 && read(go_fd, &c, 1) < 0)
		_exit(1);
	_exit(0);
}

static int reap(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid) {
		perror("waitpid");
		return -1;
	}
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static int run_procs(void)
{
	size_t len = (size_t)PROCS_PAGES * page_size;
	char *region = mmap(NULL, len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct rusage ru0, ru1;
	uint64_t faults, procs = 0;
	double t0, busy;
	pid_t *pids;
	int n = cfg.variant == V_EXIT ? MASS_EXIT_PROCS : cfg.threads;

	/* Never touched here: every child's writes are its own faults. */
	if (region == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	if (no_huge_pages(region, len))
		return 1;
	pids = calloc(n, sizeof(*pids));
	if (!pids) {
		perror("calloc");
		return 1;
	}
	getrusage(RUSAGE_CHILDREN, &ru0);
	if (cfg.variant == V_FORK) {
		double end = now() + cfg.seconds;

		t0 = now();
		while (now() < end) {
			for (int i = 0; i < n; i++) {
				pids[i] = fork();
				if (pids[i] < 0) {
					perror("fork");
					return 1;
				}
				if (!pids[i])
					procs_child(region, -1, -1);
			}
			for (int i = 0; i < n; i++)
				if (reap(pids[i]))
					return 1;
			procs += n;
		}
		busy = now() - t0;
	} else {
		int ready[2], go[2];
		char c;

		if (pipe(ready) || pipe(go)) {
			perror("pipe");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			pids[i] = fork();
			if (pids[i] < 0) {
				perror("fork");
				return 1;
			}
			if (!pids[i]) {
				close(ready[0]);
				close(go[1]);
				procs_child(region, ready[1], go[0]);
			}
		}
		close(ready[1]);
		close(go[0]);
		for (int i = 0; i < n; i++)
			if (read(ready[0], &c, 1) != 1) {
				fprintf(stderr, "vmashadow_bench: a child died before it was ready\n");
				return 1;
			}
		/* Everyone holds its faulted pages: now all of them exit. */
		t0 = now();
		close(go[1]);
		for (int i = 0; i < n; i++)
			if (reap(pids[i]))
				return 1;
		busy = now() - t0;
		procs = n;
		close(ready[0]);
	}
	getrusage(RUSAGE_CHILDREN, &ru1);
	faults = fault_count(&ru1) - fault_count(&ru0);
	printf("# procs %s: %llu processes in %.3f s, %llu faults counted by the kernel for %llu pages written\n",
	       cfg.variant_name, (unsigned long long)procs, busy,
	       (unsigned long long)faults,
	       (unsigned long long)(procs * PROCS_PAGES));
	if (faults < procs * PROCS_PAGES || busy <= 0) {
		fflush(stdout);
		fprintf(stderr,
			"vmashadow_bench: %llu faults for %llu pages written: this run measured nothing\n",
			(unsigned long long)faults,
			(unsigned long long)(procs * PROCS_PAGES));
		return 1;
	}
	if (cfg.variant == V_FORK)
		print_result("procs_per_sec", "procs/s", procs / busy, faults,
			     procs * PROCS_PAGES);
	else
		print_result("exits_per_sec", "exits/s", procs / busy, faults,
			     procs * PROCS_PAGES);
	free(pids);
	munmap(region, len);
	return 0;
}

int main(int argc, char **argv)
{
	struct writer wr = { 0 };
	struct worker *w;
	char *base = NULL, *extra = NULL;
	size_t base_len = 0, extra_len = 0;
	int ret = 1;

	parse_args(argc, argv);
	page_size = sysconf(_SC_PAGESIZE);
	if (page_size <= 0) {
		perror("sysconf(_SC_PAGESIZE)");
		return 1;
	}
	switch (cfg.scenario) {
	case SC_PATH:
		return run_path();
	case SC_PF1:
	case SC_PF2:
	case SC_PF3:
		return run_wis();
	case SC_PFT:
		return run_pft();
	case SC_PROCS:
		return run_procs();
	default:
		break;
	}
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
