// SPDX-License-Identifier: GPL-2.0
/*
 * Faults racing address-space changes, once per mode (stock, mmap, pervma,
 * shadow, spec). K threads write-and-read-back their own pages of a region while
 * another thread munmaps, mprotects, mremaps, zaps, or splits and merges
 * it. Every access must either succeed with the right data or raise the
 * signal that change can cause; never wrong data, never a splat (the run's
 * dmesg check). Then a fork storm while faulting, a thousand short-lived
 * processes, and the module loaded and unloaded in a loop while all of it
 * runs. Each race is bounded in time and in iterations.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

#include "kselftest_harness.h"
#include "vmashadow.h"

#define FAULTERS	2
#define PAGES		48
/*
 * A race runs for RACE_MS and at least MIN_MUTATIONS changes (each change
 * flushes TLBs across vCPUs, slow under TCG on a loaded host), at most
 * MAX_MUTATIONS changes or RACE_MAX_MS.
 */
#define RACE_MS		600
#define RACE_MAX_MS	20000
#define MIN_MUTATIONS	30
#define MAX_MUTATIONS	20000

static long page_size;

enum race_kind { RACE_MUNMAP, RACE_MPROTECT, RACE_MREMAP, RACE_DONTNEED,
		 RACE_SPLIT_MERGE, NR_RACES };

static const char *const race_names[] = {
	"munmap", "mprotect", "mremap", "dontneed", "split_merge",
};

struct race {
	enum race_kind kind;
	char *region;		/* PAGES pages, where the faulters work */
	char *park;		/* where RACE_MREMAP moves it meanwhile */
	atomic_bool stop;
	long mutations, mutator_errors;
};

struct faulter {
	struct race *r;
	int id;
	long accesses, signals, zeros, wrong;
	char what[128];		/* the first thing that went wrong */
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* May an access of kind @op to page @i raise @signo/@code in this race? */
static bool signal_allowed(enum race_kind kind, enum vms_op op, size_t i,
			   int signo, int code)
{
	if (signo != SIGSEGV)
		return false;
	switch (kind) {
	case RACE_MUNMAP:
	case RACE_MREMAP:
		return code == SEGV_MAPERR;
	case RACE_MPROTECT:	/* RW -> R -> NONE -> RW */
		return code == SEGV_ACCERR;
	case RACE_SPLIT_MERGE:	/* the middle page goes read-only and back */
		return code == SEGV_ACCERR && op == VMS_WRITE && i == PAGES / 2;
	default:
		return false;
	}
}

/* Can a page read back as zero after this thread wrote it? */
static bool zero_allowed(enum race_kind kind)
{
	return kind == RACE_MUNMAP || kind == RACE_DONTNEED;
}

static void *fault_pages(void *arg)
{
	struct faulter *f = arg;
	struct race *r = f->r;

	for (long seq = 1; !atomic_load(&r->stop); seq++) {
		for (size_t i = f->id; i < PAGES; i += FAULTERS) {
			char *p = r->region + i * page_size;
			long v = (seq << 16) | (i << 4) | f->id, got = 0;
			enum vms_op op;
			int signo, code = 0;

			f->accesses++;
			op = VMS_WRITE;
			signo = vms_access(p, op, &v, &code);
			if (!signo) {
				op = VMS_READ;
				signo = vms_access(p, op, &got, &code);
			}
			if (signo) {
				f->signals++;
				if (!signal_allowed(r->kind, op, i, signo, code) &&
				    !f->wrong++)
					snprintf(f->what, sizeof(f->what),
						 "page %zu: %s raised signal %d code %d",
						 i, op == VMS_WRITE ? "write" : "read",
						 signo, code);
				continue;
			}
			if (got == v)
				continue;
			if (got == 0 && zero_allowed(r->kind)) {
				f->zeros++;
				continue;
			}
			if (!f->wrong++)
				snprintf(f->what, sizeof(f->what),
					 "page %zu: wrote %#lx, read %#lx", i, v, got);
		}
		/* Let the mutator in between passes: 2 vCPUs, 3 threads. */
		sched_yield();
	}
	return NULL;
}

static bool remap_region(struct race *r)
{
	return mmap(r->region, PAGES * page_size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) ==
		r->region;
}

/* One change of the region's mappings; false if a syscall failed. */
static bool mutate(struct race *r, long n)
{
	size_t len = PAGES * page_size;
	char *mid = r->region + PAGES / 2 * page_size;

	switch (r->kind) {
	case RACE_MUNMAP:
		/* Unmap and map again, or replace in place with MAP_FIXED. */
		if (n & 1)
			return !munmap(r->region, len) && remap_region(r);
		return mmap(r->region, len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == r->region;
	case RACE_MPROTECT: {
		static const int prot[] = { PROT_READ, PROT_NONE, PROT_READ | PROT_WRITE };

		return !mprotect(r->region, len, prot[n % 3]);
	}
	case RACE_MREMAP:
		return mremap(r->region, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
			      r->park) == r->park &&
		       mremap(r->park, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
			      r->region) == r->region;
	case RACE_DONTNEED:
		return !madvise(r->region, len, MADV_DONTNEED);
	case RACE_SPLIT_MERGE:
		return !mprotect(mid, page_size, PROT_READ) &&
		       !mprotect(mid, page_size, PROT_READ | PROT_WRITE);
	default:
		return false;
	}
}

/* Runs one race. Returns the number of wrong accesses; logs what happened. */
static long run_race(struct __test_metadata *_metadata, enum race_kind kind,
		     bool verbose)
{
	struct race r = { .kind = kind };
	struct faulter f[FAULTERS];
	pthread_t t[FAULTERS];
	long wrong = 0, accesses = 0, signals = 0, zeros = 0;
	struct rusage ru0, ru1;
	double start, end, deadline;

	r.region = vms_map_anon(PAGES * page_size);
	r.park = vms_map_anon(PAGES * page_size);
	if (!r.region || !r.park)
		return -1;
	getrusage(RUSAGE_SELF, &ru0);
	for (int i = 0; i < FAULTERS; i++) {
		f[i] = (struct faulter){ .r = &r, .id = i };
		if (pthread_create(&t[i], NULL, fault_pages, &f[i]))
			return -1;
	}
	start = now();
	end = start + RACE_MS / 1000.0;
	deadline = start + RACE_MAX_MS / 1000.0;
	while ((now() < end || r.mutations < MIN_MUTATIONS) &&
	       now() < deadline && r.mutations < MAX_MUTATIONS) {
		if (!mutate(&r, r.mutations)) {
			r.mutator_errors++;
			break;
		}
		r.mutations++;
	}
	atomic_store(&r.stop, true);
	for (int i = 0; i < FAULTERS; i++) {
		pthread_join(t[i], NULL);
		accesses += f[i].accesses;
		signals += f[i].signals;
		zeros += f[i].zeros;
		wrong += f[i].wrong;
		if (f[i].wrong)
			TH_LOG("%s: thread %d: %ld wrong, first: %s",
			       race_names[kind], i, f[i].wrong, f[i].what);
	}
	getrusage(RUSAGE_SELF, &ru1);
	if (verbose)
		TH_LOG("%-11s %5ld changes in %4.0f ms, %7ld accesses (%ld signals, %ld zeroed), %ld faults",
		       race_names[kind], r.mutations, (now() - start) * 1000,
		       accesses, signals, zeros, ru1.ru_minflt - ru0.ru_minflt);
	EXPECT_EQ(0, r.mutator_errors) {
		TH_LOG("%s: the mutator's syscall failed: %s", race_names[kind],
		       strerror(errno));
	}
	/* The race happened: both sides ran, and faults were taken. */
	EXPECT_GE(r.mutations, MIN_MUTATIONS);
	EXPECT_GE(accesses, 100);
	EXPECT_GE(ru1.ru_minflt - ru0.ru_minflt, 20);
	munmap(r.region, PAGES * page_size);
	munmap(r.park, PAGES * page_size);
	return wrong;
}

FIXTURE(race) {
	bool loaded_here;
};

VMS_FIXTURE_VARIANT_MODES(race);

FIXTURE_SETUP(race)
{
	page_size = sysconf(_SC_PAGESIZE);
	vms_probe_install();
	VMS_SETUP_MODE(variant->mode, self->loaded_here);
}

FIXTURE_TEARDOWN(race)
{
	vms_teardown_mode(self->loaded_here);
}

static void log_index(struct __test_metadata *_metadata, int mode)
{
	struct vms_stats s;

	if ((mode != VMS_SHADOW && mode != VMS_SPEC) || vms_stats(&s))
		return;
	TH_LOG("%s index: %ld validated hits, %ld stale candidates caught, %lld pruned, %lld forgotten",
	       vms_modes[mode], s.hits, s.misses,
	       (long long)vms_count(&s, "pruned", mode),
	       (long long)vms_count(&s, "forgotten", mode));
	if (mode == VMS_SPEC)
		TH_LOG("spec: %ld speculative; fallbacks vma %ld table %ld pte %ld nomem %ld race %ld (%ld finished) locked %ld file %ld",
		       s.spec_done, s.spec_vma, s.spec_table, s.spec_pte,
		       s.spec_nomem, s.spec_race, s.spec_finished,
		       s.spec_locked, s.spec_file);
}

#define RACE_TEST(name, kind)						\
TEST_F_TIMEOUT(race, name, 60)						\
{									\
	EXPECT_EQ(0, run_race(_metadata, kind, true));			\
	log_index(_metadata, variant->mode);				\
}

RACE_TEST(munmap_vs_faults, RACE_MUNMAP)
RACE_TEST(mprotect_vs_faults, RACE_MPROTECT)
RACE_TEST(mremap_vs_faults, RACE_MREMAP)
RACE_TEST(dontneed_vs_faults, RACE_DONTNEED)
RACE_TEST(split_merge_vs_faults, RACE_SPLIT_MERGE)

/* Write-faults its own region until told to stop; counts bad rounds. */
struct worker {
	size_t pages;
	atomic_bool *stop;
	long rounds, errors;
};

static void *fault_worker(void *arg)
{
	struct worker *w = arg;
	char *p = vms_map_anon(w->pages * page_size);

	if (!p) {
		w->errors++;
		return NULL;
	}
	while (!atomic_load(w->stop)) {
		for (size_t i = 0; i < w->pages; i++)
			p[i * page_size] = (char)(i + w->rounds);
		for (size_t i = 0; i < w->pages; i++)
			if (p[i * page_size] != (char)(i + w->rounds))
				w->errors++;
		madvise(p, w->pages * page_size, MADV_DONTNEED);
		w->rounds++;
	}
	munmap(p, w->pages * page_size);
	return NULL;
}

/* Forks @n children one after the other, each exiting with @child(@arg). */
static int run_children(int n, int (*child)(const void *), const void *arg)
{
	int failed = 0;

	for (int i = 0; i < n; i++) {
		pid_t pid = fork();
		int st;

		if (pid < 0)
			return -1;
		if (!pid)
			_exit(child(arg));
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
			failed++;
	}
	return failed;
}

#define STABLE_PAGES	16

/* A fork storm's child: checks the parent's region, COW-writes it, checks. */
static int check_and_cow(const void *stable)
{
	char *p = (char *)stable;

	for (size_t j = 0; j < STABLE_PAGES; j++)
		if (p[j * page_size] != (char)(j ^ 0x5a))
			return 1;
	for (size_t j = 0; j < STABLE_PAGES; j++)
		p[j * page_size] = (char)j;
	for (size_t j = 0; j < STABLE_PAGES; j++)
		if (p[j * page_size] != (char)j)
			return 2;
	return 0;
}

/* A short-lived process: maps, faults, checks, exits. */
static int map_and_fault(const void *unused)
{
	char *p = vms_map_anon(4 * page_size);

	if (!p)
		return 1;
	for (int j = 0; j < 4; j++)
		p[j * page_size] = (char)j;
	for (int j = 0; j < 4; j++)
		if (p[j * page_size] != (char)j)
			return 2;
	return 0;
}

/* @n processes that map, fault and exit; 0 if all of them were right. */
static int short_lived(int n)
{
	return run_children(n, map_and_fault, NULL);
}

TEST_F_TIMEOUT(race, fork_storm_while_faulting, 120)
{
	const size_t pages = STABLE_PAGES;
	const int forks = 100;
	char *stable = vms_map_anon(pages * page_size);
	struct worker w[2];
	atomic_bool stop = false;
	pthread_t t[2];

	ASSERT_NE(NULL, stable);
	for (size_t j = 0; j < pages; j++)
		stable[j * page_size] = (char)(j ^ 0x5a);
	for (int i = 0; i < 2; i++) {
		w[i] = (struct worker){ .pages = 32, .stop = &stop };
		ASSERT_EQ(0, pthread_create(&t[i], NULL, fault_worker, &w[i]));
	}
	EXPECT_EQ(0, run_children(forks, check_and_cow, stable));
	atomic_store(&stop, true);
	for (int i = 0; i < 2; i++) {
		ASSERT_EQ(0, pthread_join(t[i], NULL));
		EXPECT_EQ(0, w[i].errors);
		EXPECT_GE(w[i].rounds, 1);
	}
	TH_LOG("%d forks while %ld + %ld fault rounds ran", forks, w[0].rounds,
	       w[1].rounds);
	/* The parent's copy is its own. */
	for (size_t j = 0; j < pages; j++)
		ASSERT_EQ((char)(j ^ 0x5a), stable[j * page_size]);
	munmap(stable, pages * page_size);
}

/*
 * Per-mm index creation and teardown, a thousand times, in shadow mode (the
 * only mode that has an index): each process maps, faults and exits.
 */
FIXTURE(index) {
	bool loaded_here;
};

FIXTURE_SETUP(index)
{
	page_size = sysconf(_SC_PAGESIZE);
	VMS_SETUP_MODE(3, self->loaded_here);
}

FIXTURE_TEARDOWN(index)
{
	vms_teardown_mode(self->loaded_here);
}

TEST_F_TIMEOUT(index, thousand_short_lived_processes, 300)
{
	const int per_forker = 500;
	struct vms_stats s0, s1;
	pid_t forker[2];

	ASSERT_EQ(0, vms_stats(&s0));
	/* Two forkers, so both vCPUs create and destroy mms at once. */
	for (int i = 0; i < 2; i++) {
		forker[i] = fork();
		ASSERT_GE(forker[i], 0);
		if (!forker[i])
			_exit(short_lived(per_forker) ? 1 : 0);
	}
	for (int i = 0; i < 2; i++) {
		int st;

		ASSERT_EQ(forker[i], waitpid(forker[i], &st, 0));
		EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	ASSERT_EQ(0, vms_stats(&s1));
	TH_LOG("%d processes; indexes before %ld, after %ld; %lld entries stored",
	       2 * per_forker, s0.indexes, s1.indexes,
	       (long long)(vms_count(&s1, "stored", 3) - vms_count(&s0, "stored", 3)));
	/* A thousand mms came and went: their indexes went with them ... */
	EXPECT_LE(s1.indexes, s0.indexes + 2);
	/* ... and each of them had one. */
	EXPECT_GE(vms_count(&s1, "stored", 3) - vms_count(&s0, "stored", 3),
		  2 * per_forker);
}

/*
 * A big index under insert/erase churn: @extra one-page VMAs faulted (each
 * its own index range, kept apart by PROT_NONE pages), then mmap, touch,
 * munmap of one page for @ms: every round stores a range and erases one,
 * splitting and rebalancing the index's nodes, then the process exits.
 * Modelled on the workload with which the 7.3 maple tree, with plain range
 * nodes, double-freed an index node (KASAN, in mt_free_walk(); see
 * kernel patch 0001). The bug is timing-dependent: this test is a guard
 * under KASAN, not a proof that it is gone.
 */
static int churn_big_index(long extra, int ms)
{
	char *res = mmap(NULL, (2 * extra + 1) * page_size, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	double end;
	long ops = 0;

	if (res == MAP_FAILED)
		return 1;
	for (long i = 0; i < extra; i++) {
		char *p = res + (2 * i + 1) * page_size;

		if (mprotect(p, page_size, PROT_READ | PROT_WRITE))
			return 2;
		*(volatile char *)p = 1;
	}
	end = now() + ms / 1000.0;
	while (now() < end || ops < 50) {
		char *p = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			return 3;
		*(volatile char *)p = 1;
		if (munmap(p, page_size))
			return 4;
		ops++;
	}
	return 0;
}

TEST_F_TIMEOUT(index, many_vmas_churn, 300)
{
	static const long extras[] = { 100, 400, 100, 400 };
	struct vms_stats s;

	for (size_t i = 0; i < sizeof(extras) / sizeof(extras[0]); i++) {
		pid_t pid = fork();
		int st;

		ASSERT_GE(pid, 0);
		if (!pid)
			_exit(churn_big_index(extras[i], 500));
		ASSERT_EQ(pid, waitpid(pid, &st, 0));
		EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) {
			TH_LOG("extra %ld: status %#x", extras[i], st);
		}
	}
	ASSERT_EQ(0, vms_stats(&s));
	TH_LOG("%lld ranges stored, %lld forgotten, %ld hits",
	       (long long)vms_count(&s, "stored", 3),
	       (long long)vms_count(&s, "forgotten", 3), s.hits);
	/* The index really held the extra VMAs and churned. */
	EXPECT_GE(vms_count(&s, "stored", 3), 1000);
	EXPECT_GE(vms_count(&s, "forgotten", 3), 200);
}

/*
 * The module comes and goes while every race above, faulting threads, fork
 * storms and short-lived processes run in a child; afterwards no index is
 * left. Each load runs the KUnit suite and each unload waits for grace
 * periods: slow under TCG with KASAN, hence the timeout.
 */
FIXTURE(unload) {};
FIXTURE_SETUP(unload)
{
	page_size = sysconf(_SC_PAGESIZE);
	vms_probe_install();
}
FIXTURE_TEARDOWN(unload) {}

TEST_F_TIMEOUT(unload, rmmod_during_races, 300)
{
	atomic_bool *stop;
	bool was_loaded;
	struct vms_stats s;
	pid_t racer, storm;
	int st;

	if (geteuid())
		SKIP(return, "must be run as root");
	if (!vms_ko_path())
		SKIP(return, "vmashadow.ko not found ($VMASHADOW_KO)");
	was_loaded = vms_loaded();
	stop = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, stop);
	atomic_store(stop, false);

	/* The races, one after the other, with two fault workers beside them. */
	racer = fork();
	ASSERT_GE(racer, 0);
	if (!racer) {
		struct worker w[2];
		pthread_t t[2];
		long wrong = 0;

		for (int i = 0; i < 2; i++) {
			w[i] = (struct worker){ .pages = 32, .stop = stop };
			pthread_create(&t[i], NULL, fault_worker, &w[i]);
		}
		for (int k = 0; !atomic_load(stop); k = (k + 1) % NR_RACES)
			wrong += run_race(_metadata, k, false);
		for (int i = 0; i < 2; i++) {
			pthread_join(t[i], NULL);
			wrong += w[i].errors;
		}
		_exit(wrong || _metadata->exit_code != KSFT_PASS ? 1 : 0);
	}
	/* Processes that come and go while the module does. */
	storm = fork();
	ASSERT_GE(storm, 0);
	if (!storm) {
		int failed = 0;

		while (!atomic_load(stop))
			failed += short_lived(20);
		_exit(failed ? 1 : 0);
	}

	for (int i = 0; i < 12; i++) {
		static const char *const params[] = { "mode=3 admit_ms=0 min_age_ms=0", "mode=2", "mode=1",
						      "mode=3 kernel_faults=0 admit_ms=0 min_age_ms=0" };

		if (!vms_loaded())
			EXPECT_EQ(0, vms_load(params[i % 4]));
		usleep(100 * 1000);
		EXPECT_EQ(0, vms_unload());
	}
	atomic_store(stop, true);
	ASSERT_EQ(racer, waitpid(racer, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		TH_LOG("the races saw wrong data or signals (status %#x)", st);
	}
	ASSERT_EQ(storm, waitpid(storm, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	/* Reloaded with nothing faulting in shadow mode: no index survives. */
	ASSERT_EQ(0, vms_load("mode=0"));
	ASSERT_EQ(0, vms_stats(&s));
	EXPECT_EQ(0, s.indexes);
	EXPECT_EQ(0, s.entries);
	ASSERT_EQ(0, vms_unload());
	if (was_loaded)
		ASSERT_EQ(0, vms_load(NULL));
	munmap(stop, page_size);
}

TEST_HARNESS_MAIN
