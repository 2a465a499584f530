// SPDX-License-Identifier: GPL-2.0
/*
 * vmashadow_bench path: what one fault costs, in instructions (or ns). One
 * thread, no other load; run_path() describes how it counts. The cases:
 * user (path_user_kernel()), kernel (the same with pread()), newvma
 * (path_newvma()), churn (path_churn()), procs (path_procs()) and young
 * (path_young()); path_case() runs one and prints its result.
 */
#include "bench.h"

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

/* What a pass does to each page: write a byte, pread() into it, read a word. */
enum pass_op { PASS_WRITE, PASS_PREAD, PASS_READ };

/* Read one word per page of @region: the read faults of path file. */
static void read_words(const char *region, long np)
{
	for (long i = 0; i < np; i++)
		(void)*(const volatile long *)(region + i * page_size);
}

/* One timed pass of a path case over @np pages; @count its cost. */
static int path_pass(struct path_sum *ps, char *region, long np,
		     enum pass_op op, uint64_t *count)
{
	struct worker w = { .region = region };
	uint64_t c0;

	c0 = count_now();
	switch (op) {
	case PASS_PREAD:
		if (read_pages(&w, np)) {
			errno = w.errnum;
			return path_fail(ps, w.err);
		}
		break;
	case PASS_READ:
		read_words(region, np);
		break;
	default:
		touch_pages(&w, np);
		break;
	}
	*count = count_now() - c0;
	return 0;
}

/*
 * A round's two timed passes over the region: @c counts the one that
 * faults, @b the same pass over the now present pages, which must not
 * fault (the loop's own cost); @faults is the first pass's faults.
 */
static int path_passes(struct path_sum *ps, char *region, long np,
		       enum pass_op op, uint64_t *c, uint64_t *b, uint64_t *faults)
{
	uint64_t f0, f1, f2;

	f0 = thread_faults();
	if (path_pass(ps, region, np, op, c))
		return -1;
	f1 = thread_faults();
	if (path_pass(ps, region, np, op, b))
		return -1;
	f2 = thread_faults();
	if (f2 != f1) {
		errno = EAGAIN;
		return path_fail(ps, "the loop over present pages faulted: no baseline");
	}
	*faults = f1 - f0;
	return 0;
}

/*
 * The region of path user, kernel and young: @np private pages, THP off,
 * between PROT_NONE guard pages (path_region_unmap() unmaps all three).
 */
static char *path_region(struct path_sum *ps, long np)
{
	size_t len = np * page_size;
	char *guard, *region;

	guard = reserve(np + 2);
	if (!guard) {
		path_fail(ps, "mmap(region)");
		return NULL;
	}
	region = guard + page_size;
	if (mprotect(region, len, PROT_READ | PROT_WRITE)) {
		path_fail(ps, "mprotect(region)");
		goto out;
	}
	if (no_huge_pages(region, len)) {
		path_fail(ps, "madvise(MADV_NOHUGEPAGE)");
		goto out;
	}
	return region;
out:
	munmap(guard, (np + 2) * page_size);
	return NULL;
}

static void path_region_unmap(char *region, long np)
{
	munmap(region - page_size, (np + 2) * page_size);
}

/* The untimed step before each round of path user, kernel, cow, zerowp, reuse. */
enum path_prep { PREP_NONE, PREP_FORK, PREP_READ, PREP_FORK_EXIT };

/*
 * The untimed step of a round of cow (a child that shares the region
 * until its gate, *@gate, is closed), reuse (a child that shared it and
 * has exited) or zerowp. Returns the child, 0, or -1 on failure.
 */
static pid_t path_prepare(struct path_sum *ps, char *region, long np,
			  enum path_prep prep, int *gate)
{
	struct worker w = { .region = region };
	int fds[2];
	pid_t child;

	if (prep == PREP_READ) {
		for (long i = 0; i < np; i++)
			(void)*(volatile long *)(region + i * page_size);
		return 0;
	}
	if (prep == PREP_NONE)
		return 0;
	touch_pages(&w, np);
	if (pipe(fds)) {
		path_fail(ps, "pipe()");
		return -1;
	}
	child = fork();
	if (child < 0) {
		path_fail(ps, "fork()");
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (child == 0) {
		char byte;

		/* Share the pages until the parent closes the gate. */
		close(fds[1]);
		_exit(read(fds[0], &byte, 1) < 0);
	}
	close(fds[0]);
	*gate = fds[1];
	if (prep == PREP_FORK_EXIT) {
		close(*gate);
		*gate = -1;
		if (waitpid(child, NULL, 0) != child) {
			path_fail(ps, "waitpid()");
			return -1;
		}
		return 0;
	}
	return child;
}

/*
 * user: write one byte per page of a private region (the faults), then the
 * same loop over the now present pages (no faults: the loop's own cost,
 * subtracted), then zap with MADV_DONTNEED, untimed.
 * kernel: the same with pread() into the region: copy_to_user() faults.
 * cow and zerowp: write-protection faults, the same two timed passes as
 * user after an untimed step each round. cow: every page is written
 * (present, the process's own) and a child is forked that shares them
 * until the round ends: each write of the faulting pass copies a page, as
 * after fork(). zerowp: every page is read: each write copies the zero
 * page. reuse: as cow, but the child exits before the faulting pass: each
 * write finds a page no longer exclusive but only this process's, and
 * reuses it in place (the second writer after a fork()).
 * With --settle, the warm-up round is followed by a sleep and a second
 * warm-up round: the region's VMA then has missed twice, the admission
 * window apart, as a hot VMA of a long-running process has.
 */
static int path_user_kernel(struct path_sum *ps, bool kernel,
			    enum path_prep prep)
{
	long np = cfg.pages;
	size_t len = np * page_size;
	char *region;
	int ret = -1;

	region = path_region(ps, np);
	if (!region)
		return -1;
	if (kernel) {
		data_fd = make_data_file();
		if (data_fd < 0) {
			path_fail(ps, "the data file");
			goto out;
		}
	}
	for (long r = cfg.settle_ms ? -1 : 0; r <= cfg.rounds; r++) {
		uint64_t c, b, f;
		int gate = -1, err;
		pid_t child;

		if (r == 0 && cfg.settle_ms)
			sleep_seconds((double)cfg.settle_ms / 1000);
		if (madvise(region, len, MADV_DONTNEED)) {
			path_fail(ps, "madvise(MADV_DONTNEED)");
			goto out;
		}
		child = path_prepare(ps, region, np, prep, &gate);
		if (child < 0)
			goto out;
		err = path_passes(ps, region, np, kernel ? PASS_PREAD : PASS_WRITE,
				  &c, &b, &f);
		if (child > 0) {
			close(gate);
			waitpid(child, NULL, 0);
		}
		if (err)
			goto out;
		path_round(ps, r > 0, c, b, f, np);
	}
	ret = 0;
out:
	if (data_fd >= 0) {
		close(data_fd);
		data_fd = -1;
	}
	path_region_unmap(region, np);
	return ret;
}

/* fault_around_bytes in pages (debugfs), or the default's 16. */
static long fault_around_pages(void)
{
	FILE *f = fopen("/sys/kernel/debug/fault_around_bytes", "r");
	long bytes = 65536;

	if (f) {
		if (fscanf(f, "%ld", &bytes) != 1 || bytes < page_size)
			bytes = 65536;
		fclose(f);
	}
	return bytes / page_size;
}

/*
 * file: read one word per page of a shared mapping of a memfd whose pages
 * the page cache holds, then the same loop (no faults: subtracted), then
 * zap, untimed. Each fault maps its fault-around window (do_read_fault()),
 * so a page in fault_around_pages() faults: "touched" counts the windows.
 */
static int path_file(struct path_sum *ps)
{
	long np = cfg.pages, fa = fault_around_pages();
	size_t len = np * page_size;
	char *guard, *region;
	int fd, ret = -1;

	fd = memfd_create("vmashadow-bench", 0);
	if (fd < 0)
		return path_fail(ps, "memfd_create()");
	if (ftruncate(fd, len)) {
		path_fail(ps, "ftruncate(memfd)");
		goto out_fd;
	}
	for (long i = 0; i < np; i++) {
		if (pwrite(fd, &i, sizeof(i), i * page_size) != sizeof(i)) {
			path_fail(ps, "pwrite(memfd)");
			goto out_fd;
		}
	}
	guard = reserve(np + 2);
	if (!guard) {
		path_fail(ps, "mmap(region)");
		goto out_fd;
	}
	region = mmap(guard + page_size, len, PROT_READ, MAP_SHARED | MAP_FIXED,
		      fd, 0);
	if (region == MAP_FAILED) {
		path_fail(ps, "mmap(memfd)");
		goto out;
	}
	for (long r = cfg.settle_ms ? -1 : 0; r <= cfg.rounds; r++) {
		uint64_t c, b, f;

		if (r == 0 && cfg.settle_ms)
			sleep_seconds((double)cfg.settle_ms / 1000);
		if (madvise(region, len, MADV_DONTNEED)) {
			path_fail(ps, "madvise(MADV_DONTNEED)");
			goto out;
		}
		if (path_passes(ps, region, np, PASS_READ, &c, &b, &f))
			goto out;
		path_round(ps, r > 0, c, b, f, (np + fa - 1) / fa);
	}
	ret = 0;
out:
	munmap(guard, (np + 2) * page_size);
out_fd:
	close(fd);
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
 * The coherence plugin's window marks (tools/coherence/README.md): a NOP
 * with a magic displacement, which the plugin, if loaded, reads as "start"
 * (1) or "stop" (2) counting, tag 11. Anywhere else it does nothing.
 */
static void coh_mark(bool start)
{
	if (start)
		asm volatile(".byte 0x0f,0x1f,0x80,1,11,0x4f,0x4f" ::: "memory");
	else
		asm volatile(".byte 0x0f,0x1f,0x80,2,11,0x4f,0x4f" ::: "memory");
}

/*
 * The rounds of young and split: for PATH_YOUNG_MS from now, zap the first
 * @np pages of @region, fault them and loop over them again
 * (path_passes()). Every round counts and is printed with its time. With
 * VMS_COH_WINDOW set in the environment, each round's two passes are a
 * window of the coherence plugin, if it is loaded: the faults'
 * instructions per kernel function (docs/results.md uses it).
 */
static int path_window(struct path_sum *ps, const char *name, char *region,
		       long np)
{
	bool coh = getenv("VMS_COH_WINDOW") != NULL;
	uint64_t t0 = now_ns();

	for (long r = 0; r == 0 || now_ns() - t0 < PATH_YOUNG_MS * 1000000ull; r++) {
		uint64_t c, b, f, at = now_ns() - t0;

		if (madvise(region, np * page_size, MADV_DONTNEED))
			return path_fail(ps, "madvise(MADV_DONTNEED)");
		if (coh)
			coh_mark(true);
		if (path_passes(ps, region, np, PASS_WRITE, &c, &b, &f))
			return -1;
		if (coh)
			coh_mark(false);
		path_round(ps, true, c, b, f, np);
		printf("# path %s round %ld at %.3f ms: %.1f per fault, %llu faults\n",
		       name, r, (double)at / 1e6,
		       f ? ((double)c - (double)b) / f : 0.0,
		       (unsigned long long)f);
	}
	return 0;
}

/*
 * young: what a process pays while its index is still learning. Right after
 * the other VMAs are mapped (run_path(), no --settle), map a fresh region
 * of --pages pages and, for PATH_YOUNG_MS from then, do what user does
 * (path_window()): a round zaps, writes a byte per page (the faults) and
 * runs the same loop again (no faults: subtracted). Every round counts, the
 * first included: the region's misses (probation, admit_ms) fall into its
 * first rounds. Under -icount the window is 50 M instructions, so it holds
 * the same rounds in every mode's run only if the modes cost alike: the
 * rounds and faults are printed with the result.
 */
static int path_young(struct path_sum *ps)
{
	long np = cfg.pages;
	char *region;
	int ret;

	region = path_region(ps, np);
	if (!region)
		return -1;
	ret = path_window(ps, "young", region, np);
	path_region_unmap(region, np);
	return ret;
}

/*
 * split: module v3's item 2. A hot region, indexed (missed twice, --settle
 * apart, as user's warm-up), is split by MADV_DONTFORK on its second half:
 * the kernel makes a new VMA for the first half and keeps the old one,
 * shrunk in place, for the second (split_vma() with new_below), and frees
 * none, so nothing is forgotten and the index still holds the whole range
 * for the old VMA. For PATH_YOUNG_MS from the split, rounds fault the
 * first half (the new VMA, not yet admitted), as young does (path_window()).
 * An index that kept the stale range would hand every one of those faults
 * the wrong VMA first; one that drops it at the first miss only misses.
 */
static int path_split(struct path_sum *ps)
{
	long np = cfg.pages, half = np / 2;
	char *region, *tail;
	int ret = -1;

	region = path_region(ps, np);
	if (!region)
		return -1;
	tail = region + (np - half) * page_size;
	for (int r = 0; r < 2; r++) {
		uint64_t c, b, f;

		if (r)
			sleep_seconds((double)cfg.settle_ms / 1000);
		if (madvise(region, np * page_size, MADV_DONTNEED)) {
			path_fail(ps, "madvise(MADV_DONTNEED)");
			goto out;
		}
		if (path_passes(ps, region, np, PASS_WRITE, &c, &b, &f))
			goto out;
	}
	if (madvise(tail, half * page_size, MADV_DONTFORK)) {
		path_fail(ps, "madvise(MADV_DONTFORK)");
		goto out;
	}
	ret = path_window(ps, "split", region, np - half);
out:
	path_region_unmap(region, np);
	return ret;
}

/* fail_fault_spec (CONFIG_FAIL_FAULT_SPEC): speculative validation fails. */
#define FFS_DIR "/sys/kernel/debug/fail_fault_spec"

static int ffs_write(const char *name, const char *v)
{
	char path[96];
	int fd, ret = 0;

	snprintf(path, sizeof(path), FFS_DIR "/%s", name);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	if (write(fd, v, strlen(v)) != (ssize_t)strlen(v))
		ret = -1;
	close(fd);
	return ret;
}

/*
 * fallback: user with every speculative fault's validation failing, so
 * each fault is finished under the VMA lock (fault_spec_finish()): what a
 * validation failure costs. In modes without speculative faults, user.
 */
static int path_fallback(struct path_sum *ps)
{
	int err;

	if (ffs_write("verbose", "0") || ffs_write("interval", "1") ||
	    ffs_write("times", "-1") || ffs_write("probability", "100"))
		return path_fail(ps, "setting " FFS_DIR);
	err = path_user_kernel(ps, false, PREP_NONE);
	if (ffs_write("probability", "0") && !err)
		return path_fail(ps, "resetting " FFS_DIR "/probability");
	return err;
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
		err = path_user_kernel(&ps, false, PREP_NONE);
		break;
	case PC_KERNEL:
		err = path_user_kernel(&ps, true, PREP_NONE);
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
	case PC_SPLIT:
		err = path_split(&ps);
		break;
	case PC_COW:
		err = path_user_kernel(&ps, false, PREP_FORK);
		break;
	case PC_ZEROWP:
		err = path_user_kernel(&ps, false, PREP_READ);
		break;
	case PC_REUSE:
		err = path_user_kernel(&ps, false, PREP_FORK_EXIT);
		break;
	case PC_FILE:
		err = path_file(&ps);
		break;
	case PC_FALLBACK:
		if (access(FFS_DIR, F_OK)) {
			printf("# path fallback skipped: no " FFS_DIR " (a kernel without CONFIG_FAIL_FAULT_SPEC)\n");
			return 0;
		}
		err = path_fallback(&ps);
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
int run_path(void)
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
	if (cfg.pcase == PC_PROCS || cfg.pcase == PC_YOUNG || cfg.pcase == PC_SPLIT)
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
