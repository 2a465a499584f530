// SPDX-License-Identifier: GPL-2.0
/*
 * Speculative faults (mode spec) against the writers they race, each
 * asserting something a user can observe, in pervma, shadow and spec (the
 * first two are the control: the assertions hold for every correct fault
 * path). Every test also shows that, in spec, the speculative path really
 * ran (/proc/vmstat fault_spec_done moved), and which check turned faults
 * away. Each check of fault_vma_speculate() has a test here meant to fail
 * without it (docs/spec.md, "Mutation proofs", has the runs):
 *
 *   range check         stale_range_after_split (fails without it)
 *   PTE none under lock same_page_faults_keep_every_write (fails without it)
 *   sequence check      readonly_after_mprotect_returns (did not, yet)
 *   attached check      nothing_left_after_munmap (fails without it)
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <time.h>

#include "kselftest_harness.h"
#include "vmashadow.h"

static long page_size;

/* A 2 MiB-aligned window, so that the tests own every PTE table they use. */
#define WINDOW		(2UL << 20)

static char *map_window(void)
{
	char *p = mmap(NULL, 2 * WINDOW, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	char *w;

	if (p == MAP_FAILED)
		return NULL;
	w = (char *)(((unsigned long)p + WINDOW - 1) & ~(WINDOW - 1));
	if (mprotect(w, WINDOW, PROT_READ | PROT_WRITE) ||
	    madvise(w, WINDOW, MADV_NOHUGEPAGE))
		return NULL;
	return w;
}

/*
 * @pages pages of a VMA of their own inside a fresh window: read-only guard
 * pages either side keep it from merging or splitting when its protection
 * changes, and the first guard (mapped) keeps the window's PTE table.
 */
static char *map_region(size_t pages)
{
	char *w = map_window();

	if (!w)
		return NULL;
	w[0] = 1;
	if (mprotect(w, page_size, PROT_READ) ||
	    mprotect(w + (1 + pages) * page_size, page_size, PROT_READ))
		return NULL;
	return w + page_size;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The outcomes of speculative faults, as /proc/vmstat names them. */
static const char *const outcomes[] = {
	"done", "fallback_vma", "fallback_table", "fallback_pte",
	"fallback_nomem", "fallback_race",
};
#define NR_OUTCOMES (sizeof(outcomes) / sizeof(outcomes[0]))

static long long spec_count(const char *what)
{
	char name[64];

	snprintf(name, sizeof(name), "fault_spec_%s", what);
	return vmstat_get(name);
}

FIXTURE(spec) {
	bool loaded_here;
	long long base[NR_OUTCOMES];
};

FIXTURE_VARIANT(spec) {
	int mode;
};

FIXTURE_VARIANT_ADD(spec, pervma) { .mode = 2 };
FIXTURE_VARIANT_ADD(spec, shadow) { .mode = 3 };
FIXTURE_VARIANT_ADD(spec, spec) { .mode = VMS_SPEC };

FIXTURE_SETUP(spec)
{
	page_size = sysconf(_SC_PAGESIZE);
	vms_probe_install();
	if (spec_count("done") < 0)
		SKIP(return, "no fault_spec_done in /proc/vmstat: not the project's kernel");
	VMS_SETUP_MODE(variant->mode, self->loaded_here);
	for (size_t i = 0; i < NR_OUTCOMES; i++)
		self->base[i] = spec_count(outcomes[i]);
}

FIXTURE_TEARDOWN(spec)
{
	vms_teardown_mode(self->loaded_here);
}

/* In spec, the speculative path ran; in the other modes, it did not. */
#define EXPECT_SPECULATED() do {						\
	long long d[NR_OUTCOMES], done;						\
										\
	for (size_t i = 0; i < NR_OUTCOMES; i++)				\
		d[i] = spec_count(outcomes[i]) - self->base[i];			\
	done = d[0];								\
	TH_LOG("%s: %lld speculative faults; fallbacks vma %lld table %lld pte %lld nomem %lld race %lld", \
	       vms_modes[variant->mode], d[0], d[1], d[2], d[3], d[4], d[5]);	\
	if (variant->mode == VMS_SPEC) {					\
		EXPECT_GT(done, 0);						\
	} else {								\
		EXPECT_EQ(0, done);						\
	}									\
} while (0)

/*
 * The index keeps [start, end) -> VMA until that VMA is freed. mprotect()
 * splits a VMA by giving the part it changes the original vm_area_struct
 * and the rest a new one, so: the whole window PROT_NONE, then [0, 3/4)
 * PROT_READ, then [0, 1/2) read-write leaves the index's entry for the
 * whole window pointing at the read-write VMA [0, 1/2). Only the range
 * check on the copy then stops a write in [1/2, 3/4) from mapping a
 * writable page in a read-only VMA, and a read in [3/4, 1) from mapping
 * the zero page in a PROT_NONE one.
 */
TEST_F(spec, stale_range_after_split)
{
	const size_t pages = 64;
	char *w = map_window();
	long long vma0;
	int code;
	long v;

	ASSERT_NE(NULL, w);
	/* anon_vma, PTE table and the index's entry for the whole window. */
	w[0] = 1;
	ASSERT_EQ(0, mprotect(w, WINDOW, PROT_NONE));
	ASSERT_EQ(0, mprotect(w, 3 * pages / 4 * page_size, PROT_READ));
	ASSERT_EQ(0, mprotect(w, pages / 2 * page_size,
			      PROT_READ | PROT_WRITE));
	vma0 = spec_count("fallback_vma");
	for (size_t i = 1; i < pages; i++) {
		char *p = w + i * page_size;

		code = 0;
		v = 0x5a;
		if (i < pages / 2) {
			EXPECT_EQ(0, vms_access(p, VMS_WRITE, &v, &code));
		} else if (i < 3 * pages / 4) {
			EXPECT_EQ(SIGSEGV, vms_access(p, VMS_WRITE, &v, &code)) {
				TH_LOG("page %zu: written after mprotect(PROT_READ)", i);
			}
			EXPECT_EQ(SEGV_ACCERR, code);
			v = 1;
			EXPECT_EQ(0, vms_access(p, VMS_READ, &v, &code));
			EXPECT_EQ(0, v);
		} else {
			EXPECT_EQ(SIGSEGV, vms_access(p, VMS_READ, &v, &code)) {
				TH_LOG("page %zu: read after mprotect(PROT_NONE)", i);
			}
			EXPECT_EQ(SEGV_ACCERR, code);
		}
	}
	if (variant->mode == VMS_SPEC) {
		EXPECT_GT(spec_count("fallback_vma"), vma0);
	}
	EXPECT_SPECULATED();
	munmap(w, WINDOW);
}

/* Threads that fault the same pages at once, each writing its own word. */
#define SAME_THREADS	4
#define SAME_PAGES	8
#define SAME_ROUNDS	400

struct same {
	char *w;		/* page 0, then SAME_PAGES pages the threads share */
	pthread_barrier_t start, done;
	long lost;
	char what[96];
};

struct same_arg {
	struct same *s;
	int id;
};

static void *same_page_writer(void *arg)
{
	struct same_arg *a = arg;
	struct same *s = a->s;

	for (long r = 1; r <= SAME_ROUNDS; r++) {
		pthread_barrier_wait(&s->start);
		for (int i = 0; i < SAME_PAGES; i++) {
			long *word = (long *)(s->w + (1 + i) * page_size) + a->id;

			*word = r << 8 | a->id;
		}
		pthread_barrier_wait(&s->done);
		/* The main thread checks and zaps between rounds. */
		pthread_barrier_wait(&s->done);
	}
	return NULL;
}

/*
 * Two faults on one none PTE both pass the lockless look; only the second
 * look, under the PTE lock, keeps the later one from replacing the page the
 * earlier one mapped (and a thread's write with it).
 */
TEST_F(spec, same_page_faults_keep_every_write)
{
	struct same s = { .w = map_region(1 + SAME_PAGES) };
	struct same_arg a[SAME_THREADS];
	pthread_t t[SAME_THREADS];
	long long pte0;

	ASSERT_NE(NULL, s.w);
	/* Page 0 gives the region its anon_vma and index entry. */
	s.w[0] = 1;
	ASSERT_EQ(0, pthread_barrier_init(&s.start, NULL, SAME_THREADS + 1));
	ASSERT_EQ(0, pthread_barrier_init(&s.done, NULL, SAME_THREADS + 1));
	pte0 = spec_count("fallback_pte");
	for (int i = 0; i < SAME_THREADS; i++) {
		a[i] = (struct same_arg){ .s = &s, .id = i };
		ASSERT_EQ(0, pthread_create(&t[i], NULL, same_page_writer, &a[i]));
	}
	for (long r = 1; r <= SAME_ROUNDS; r++) {
		pthread_barrier_wait(&s.start);
		pthread_barrier_wait(&s.done);
		for (int i = 0; i < SAME_PAGES; i++)
			for (int id = 0; id < SAME_THREADS; id++) {
				long *word = (long *)(s.w + (1 + i) * page_size) + id;

				if (*word == (r << 8 | id))
					continue;
				if (!s.lost++)
					snprintf(s.what, sizeof(s.what),
						 "round %ld page %d thread %d: read %#lx",
						 r, i, id, *word);
			}
		ASSERT_EQ(0, madvise(s.w + page_size, SAME_PAGES * page_size,
				     MADV_DONTNEED));
		pthread_barrier_wait(&s.done);
	}
	for (int i = 0; i < SAME_THREADS; i++)
		pthread_join(t[i], NULL);
	TH_LOG("%ld writes lost%s%s; %lld faults found the PTE mapped by another",
	       s.lost, s.lost ? ", first: " : "", s.what,
	       spec_count("fallback_pte") - pte0);
	EXPECT_EQ(0, s.lost);
	EXPECT_SPECULATED();
	munmap(s.w - page_size, WINDOW);
}

/* Faulters writing fresh pages while the region flips read-only and back. */
#define RO_FAULTERS	2
#define RO_PAGES	32
#define RO_MS		1500
/* Each flip probes every page (a signal each): slow on a loaded TCG host. */
#define RO_MIN_FLIPS	20

struct ro {
	char *region;
	atomic_long epoch;	/* odd: read-only, and mprotect() has returned */
	atomic_bool stop;
	long writes_in_ro;
	char what[96];
};

static void *ro_faulter(void *arg)
{
	struct ro *r = arg;
	static atomic_int next_id;
	int id = atomic_fetch_add(&next_id, 1) % RO_FAULTERS;

	for (size_t i = id; !atomic_load(&r->stop); i = (i + RO_FAULTERS) % RO_PAGES) {
		long e = atomic_load(&r->epoch), v = e;
		int code = 0;

		if (vms_access(r->region + i * page_size, VMS_WRITE, &v, &code))
			continue;
		/* It wrote, entirely inside a read-only period: a stale PTE. */
		if ((e & 1) && atomic_load(&r->epoch) == e && !r->writes_in_ro++)
			snprintf(r->what, sizeof(r->what),
				 "page %zu written in read-only epoch %ld", i, e);
	}
	return NULL;
}

/*
 * A fault that copied the VMA while it was writable and reaches the PTE lock
 * after mprotect(PROT_READ) has passed its (empty) PTE would map a writable
 * page into a read-only VMA: only the mmap_lock sequence check stops it.
 * Once mprotect() has returned, no write may succeed until the next
 * mprotect(PROT_READ | PROT_WRITE) begins: neither the faulters' (checked by
 * epoch) nor the main thread's probe of every page.
 */
TEST_F_TIMEOUT(spec, readonly_after_mprotect_returns, 120)
{
	struct ro r = { .region = map_region(RO_PAGES) };
	size_t len = RO_PAGES * page_size;
	pthread_t t[RO_FAULTERS];
	long flips = 0, probed = 0;
	long long race0;
	double end;

	ASSERT_NE(NULL, r.region);
	race0 = spec_count("fallback_race");
	for (int i = 0; i < RO_FAULTERS; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, ro_faulter, &r));
	end = now() + RO_MS / 1000.0;
	while (now() < end || (flips < RO_MIN_FLIPS && now() < end + 60)) {
		ASSERT_EQ(0, mprotect(r.region, len, PROT_READ));
		atomic_fetch_add(&r.epoch, 1);	/* odd: read-only from now */
		for (size_t i = 0; i < RO_PAGES; i++) {
			long v = 1;
			int code = 0;

			if (!vms_access(r.region + i * page_size, VMS_WRITE, &v, &code) &&
			    !r.writes_in_ro++)
				snprintf(r.what, sizeof(r.what),
					 "page %zu writable after mprotect(PROT_READ)", i);
			probed++;
		}
		atomic_fetch_add(&r.epoch, 1);	/* even: about to be writable */
		ASSERT_EQ(0, mprotect(r.region, len, PROT_READ | PROT_WRITE));
		/* Every PTE none again: the faulters' next writes all fault. */
		ASSERT_EQ(0, madvise(r.region, len, MADV_DONTNEED));
		flips++;
	}
	atomic_store(&r.stop, true);
	for (int i = 0; i < RO_FAULTERS; i++)
		pthread_join(t[i], NULL);
	TH_LOG("%ld flips, %ld probes, %ld writes in read-only periods%s%s; %lld speculative faults caught by the sequence",
	       flips, probed, r.writes_in_ro, r.writes_in_ro ? ", first: " : "",
	       r.what, spec_count("fallback_race") - race0);
	EXPECT_GE(flips, RO_MIN_FLIPS);
	EXPECT_EQ(0, r.writes_in_ro);
	EXPECT_SPECULATED();
	munmap(r.region - page_size, WINDOW);
}

/* Faulters writing a region that is unmapped and mapped again under them. */
#define UM_FAULTERS	2
#define UM_PAGES	64
#define UM_ROUNDS	300

struct um {
	char *region;		/* UM_PAGES pages after a page that stays */
	atomic_int gate;	/* 0: open; 1: closed; faulters ack by parking */
	atomic_int parked;
	atomic_bool stop;
};

static void *um_faulter(void *arg)
{
	struct um *u = arg;
	static atomic_int next_id;
	int id = atomic_fetch_add(&next_id, 1) % UM_FAULTERS;
	size_t i = id;

	while (!atomic_load(&u->stop)) {
		long v = 0x77;
		int code = 0;

		if (atomic_load(&u->gate)) {
			atomic_fetch_add(&u->parked, 1);
			while (atomic_load(&u->gate) && !atomic_load(&u->stop))
				sched_yield();
			atomic_fetch_sub(&u->parked, 1);
			continue;
		}
		vms_access(u->region + i * page_size, VMS_WRITE, &v, &code);
		i = (i + UM_FAULTERS) % UM_PAGES;
	}
	return NULL;
}

/*
 * munmap() detaches the VMA, downgrades mmap_lock, zaps, frees the VMA and
 * only then drops it from the index: a fault that starts in between finds
 * the VMA, with the sequence unchanged since the downgrade, and only the
 * attached check stops it (one that started before the munmap is stopped
 * by the sequence). The guard page before the region stays mapped, so the
 * PTE table survives the munmap and a PTE left behind would show in the
 * next mapping at the same address: resident in mincore(), with a
 * faulter's data in it.
 */
TEST_F_TIMEOUT(spec, nothing_left_after_munmap, 120)
{
	struct um u = { .region = map_region(UM_PAGES) };
	unsigned char vec[UM_PAGES];
	pthread_t t[UM_FAULTERS];
	long stale = 0;
	size_t len = UM_PAGES * page_size;

	ASSERT_NE(NULL, u.region);
	for (int i = 0; i < UM_FAULTERS; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, um_faulter, &u));
	for (int r = 0; r < UM_ROUNDS; r++) {
		/* Let the faulters fault for a moment, then pull it away. */
		sched_yield();
		ASSERT_EQ(0, munmap(u.region, len));
		atomic_store(&u.gate, 1);
		while (atomic_load(&u.parked) < UM_FAULTERS)
			sched_yield();
		/* Nobody touches the region until the gate opens again. */
		ASSERT_EQ(u.region, mmap(u.region, len, PROT_READ | PROT_WRITE,
					 MAP_PRIVATE | MAP_ANONYMOUS |
					 MAP_FIXED_NOREPLACE, -1, 0));
		madvise(u.region, len, MADV_NOHUGEPAGE);
		ASSERT_EQ(0, mincore(u.region, len, vec));
		for (size_t i = 0; i < UM_PAGES; i++)
			if ((vec[i] & 1) && !stale++)
				TH_LOG("round %d: page %zu resident in a new mapping, holding %#lx",
				       r, i, *(long *)(u.region + i * page_size));
		atomic_store(&u.gate, 0);
	}
	atomic_store(&u.stop, true);
	for (int i = 0; i < UM_FAULTERS; i++)
		pthread_join(t[i], NULL);
	EXPECT_EQ(0, stale);
	EXPECT_SPECULATED();
	munmap(u.region - page_size, WINDOW);
}

TEST_HARNESS_MAIN
