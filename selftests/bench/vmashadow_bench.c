// SPDX-License-Identifier: GPL-2.0
/*
 * vmashadow_bench: one page-fault benchmark scenario per invocation.
 *
 *   vmashadow_bench SCENARIO [--threads N] [--seconds S] [--pages P]
 *                            [--variant V] [--writer-pages W] [--latency]
 *                            [--vmas K]
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
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS	256
#define MAX_PAGES	262144L		/* per thread: 1 GiB of 4 KiB pages */
#define MAX_TOTAL_PAGES	1048576L	/* over all threads: 4 GiB */
#define MIN_SECONDS	0.01
#define MAX_SECONDS	3600.0
#define MIN_WARMUP	0.2		/* seconds */
#define CHURN_PAGES	16		/* default --writer-pages, munmap */
#define CHURN_PAGES_MPROTECT 512	/* default --writer-pages, mprotect */
#define MAX_CHURN_PAGES	65536L		/* 256 MiB */
#define ARRAY_SIZE(a)	(int)(sizeof(a) / sizeof((a)[0]))
#define MAX_VMAS	16384L		/* --vmas: below vm.max_map_count */
#define LAT_SAMPLES	200000L		/* reservoir, shared out over threads */
#define MIN_LAT_SAMPLES	1000L		/* per thread */

enum scenario {
	SC_CONTENDED, SC_UNCONTENDED, SC_SCALE, SC_KERNEL_FAULTS, SC_CHURN
};
enum variant { V_NONE, V_MUNMAP, V_MPROTECT };

static const char *const scenario_names[] = {
	[SC_CONTENDED] = "contended",
	[SC_UNCONTENDED] = "uncontended",
	[SC_SCALE] = "scale",
	[SC_KERNEL_FAULTS] = "kernel-faults",
	[SC_CHURN] = "churn",
};

static const char *const variant_names[] = {
	[V_NONE] = "-",
	[V_MUNMAP] = "munmap",
	[V_MPROTECT] = "mprotect",
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
		"  SCENARIO    contended | uncontended | scale | kernel-faults | churn\n"
		"  --threads   faulting threads, 1..%d (default 2; uncontended,\n"
		"              churn: 1)\n"
		"  --seconds   measured time, %.2f..%.0f (default 2; plus a warm-up)\n"
		"  --pages     4 KiB pages per thread, 1..%ld (default 256; churn:\n"
		"              pages per mapping, default %d)\n"
		"  --variant   contended, kernel-faults: munmap (default) | mprotect;\n"
		"              uncontended, scale: -\n"
		"  --writer-pages  the writer's region, 2..%ld pages (default %d for\n"
		"              munmap, %d for mprotect)\n"
		"  --latency   per-fault latency percentiles (contended, uncontended)\n"
		"  --vmas      churn: first map and fault K one-page VMAs, 0..%ld\n"
		"              (default 0; the variant is then named vmasK)\n",
		MAX_THREADS, MIN_SECONDS, MAX_SECONDS, MAX_PAGES, CHURN_PAGES,
		MAX_CHURN_PAGES, CHURN_PAGES, CHURN_PAGES_MPROTECT, MAX_VMAS);
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
	bool threads_given = false, pages_given = false;
	long writer_pages = 0, vmas = -1;
	long n;
	int sc;

	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout);
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
		} else if ((v = option_value(argc, argv, &i, "--variant"))) {
			variant = v;
		} else if ((v = option_value(argc, argv, &i, "--writer-pages"))) {
			if (!parse_long(v, 2, MAX_CHURN_PAGES, &writer_pages))
				bad_args("bad --writer-pages '%s'", v);
		} else if ((v = option_value(argc, argv, &i, "--vmas"))) {
			if (!parse_long(v, 0, MAX_VMAS, &vmas))
				bad_args("bad --vmas '%s'", v);
		} else if (!strcmp(argv[i], "--latency")) {
			cfg.latency = true;
		} else {
			bad_args("unknown argument '%s'", argv[i]);
		}
	}

	switch (cfg.scenario) {
	case SC_CONTENDED:
		cfg.variant = variant ? lookup(variant_names, 3, variant) : V_MUNMAP;
		if (cfg.variant != V_MUNMAP && cfg.variant != V_MPROTECT)
			bad_args("contended: bad --variant '%s'", variant);
		break;
	case SC_KERNEL_FAULTS:
		cfg.variant = variant ? lookup(variant_names, 3, variant) : V_MUNMAP;
		if (cfg.variant != V_MUNMAP && cfg.variant != V_MPROTECT)
			bad_args("kernel-faults: bad --variant '%s'", variant);
		break;
	case SC_UNCONTENDED:
	case SC_SCALE:
	case SC_CHURN:
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
	if (vmas >= 0 && cfg.scenario != SC_CHURN)
		bad_args("--vmas is for churn, not %s", argv[1]);
	if (cfg.scenario == SC_CHURN) {
		if (!threads_given)
			cfg.threads = 1;
		if (!pages_given)
			cfg.pages = CHURN_PAGES;
		cfg.vmas = vmas > 0 ? vmas : 0;
	}
	if (cfg.vmas)
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
			perror("mprotect(extra VMA)");
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
