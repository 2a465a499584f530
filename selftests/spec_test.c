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
 *   PTE same under lock same_page_cow_keeps_every_write (fails without it)
 *   sequence check      readonly_after_mprotect_returns (fails without it),
 *                       readonly_after_mprotect_returns_cow (the same check
 *                       for a copy-on-write of the zero page)
 *   attached check      nothing_left_after_munmap (fails without it)
 *   reuse under lock    vmspliced_page_is_copied_not_reused (fails without
 *                       wp_can_reuse_anon_folio()'s checks)
 *   file validation     file_remap_never_shows_old_file (fails without
 *                       fault_spec_validate() in filemap_map_pages())
 *   PTE same, finishing same_page_faults_keep_every_write_failing_validation
 *                       (fails without fault_spec_finish()'s PTE check)
 *
 * and fork's write-protect has fork_child_never_sees_later_writes, the
 * property the 6.4 fork corruption broke, with the parent's copy-on-write
 * faults speculative; reuse_in_place_after_fork shows the second writer
 * after a fork reusing its pages in place; file_truncate_leaves_nothing_mapped
 * races truncation, which the locked fault-around's own checks exclude.
 * The *_failing_validation tests make every validation fail
 * (fail_fault_spec), so that each fault is finished under the VMA lock with
 * the page it prepared (fault_spec_finish()).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/wait.h>
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
 * pages either side keep it from merging while it is read-write (a test
 * that makes it read-only changes them first), and the first guard
 * (mapped) keeps the window's PTE table.
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
	"fallback_nomem", "fallback_race", "fallback_locked", "fallback_file",
	"finished",
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

FIXTURE_VARIANT_ADD(spec, pervma) { .mode = VMS_PERVMA };
FIXTURE_VARIANT_ADD(spec, shadow) { .mode = VMS_SHADOW };
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

static int fail_validation(bool on);

FIXTURE_TEARDOWN(spec)
{
	fail_validation(false);
	vms_teardown_mode(self->loaded_here);
}

/* In spec, the speculative path ran; in the other modes, it did not. */
#define EXPECT_SPECULATED() do {						\
	long long d[NR_OUTCOMES], done;						\
										\
	for (size_t i = 0; i < NR_OUTCOMES; i++)				\
		d[i] = spec_count(outcomes[i]) - self->base[i];			\
	done = d[0];								\
	TH_LOG("%s: %lld speculative faults; fallbacks vma %lld table %lld pte %lld nomem %lld race %lld (%lld finished) locked %lld file %lld", \
	       vms_modes[variant->mode], d[0], d[1], d[2], d[3], d[4], d[5], d[8], d[6], d[7]); \
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
/* Fewer rounds on a slow (loaded TCG) host: at least this many, ... */
#define SAME_MIN_ROUNDS	50
/* ... then until this many seconds have passed. */
#define SAME_SECONDS	15

struct same {
	char *w;		/* page 0, then SAME_PAGES pages the threads share */
	bool cow;		/* the pages map the zero page when a round starts */
	pthread_barrier_t start, done;
	atomic_bool stop;	/* read after the start barrier */
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

	for (long r = 1;; r++) {
		pthread_barrier_wait(&s->start);
		if (atomic_load(&s->stop))
			break;
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
 * Threads write their own word of the same pages at once, every round
 * after the main thread zapped them (and, with @cow, read them: each then
 * maps the zero page, and the writes are copy-on-write faults). No write
 * may be lost. Returns the PTE fallbacks counted meanwhile.
 */
static long long same_page_rounds(struct __test_metadata *_metadata,
				  bool cow)
{
	struct same s = { .w = map_region(1 + SAME_PAGES), .cow = cow };
	struct same_arg a[SAME_THREADS];
	pthread_t t[SAME_THREADS];
	double end = now() + SAME_SECONDS;
	long long pte0;
	long r;

	if (!s.w) {
		ASSERT_NE(NULL, s.w);
		return 0;
	}
	/* Page 0 gives the region its anon_vma and index entry. */
	s.w[0] = 1;
	for (int i = 0; cow && i < SAME_PAGES; i++)
		ASSERT_EQ(0, *(volatile long *)(s.w + (1 + i) * page_size));
	ASSERT_EQ(0, pthread_barrier_init(&s.start, NULL, SAME_THREADS + 1));
	ASSERT_EQ(0, pthread_barrier_init(&s.done, NULL, SAME_THREADS + 1));
	pte0 = spec_count("fallback_pte");
	for (int i = 0; i < SAME_THREADS; i++) {
		a[i] = (struct same_arg){ .s = &s, .id = i };
		ASSERT_EQ(0, pthread_create(&t[i], NULL, same_page_writer, &a[i]));
	}
	for (r = 1; r <= SAME_ROUNDS && (r <= SAME_MIN_ROUNDS || now() < end); r++) {
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
		for (int i = 0; cow && i < SAME_PAGES; i++)
			ASSERT_EQ(0, *(volatile long *)(s.w + (1 + i) * page_size));
		pthread_barrier_wait(&s.done);
	}
	atomic_store(&s.stop, true);
	pthread_barrier_wait(&s.start);
	for (int i = 0; i < SAME_THREADS; i++)
		pthread_join(t[i], NULL);
	pte0 = spec_count("fallback_pte") - pte0;
	TH_LOG("%ld rounds%s: %ld writes lost%s%s; %lld faults found the PTE changed by another",
	       r - 1, cow ? " of copy-on-write faults" : "", s.lost,
	       s.lost ? ", first: " : "", s.what, pte0);
	EXPECT_EQ(0, s.lost);
	munmap(s.w - page_size, WINDOW);
	return pte0;
}

/*
 * Two faults on one none PTE both pass the lockless look; only the second
 * look, under the PTE lock, keeps the later one from replacing the page the
 * earlier one mapped (and a thread's write with it).
 */
TEST_F_TIMEOUT(spec, same_page_faults_keep_every_write, 120)
{
	same_page_rounds(_metadata, false);
	EXPECT_SPECULATED();
}

/*
 * The same with every page first mapping the zero page: two copy-on-write
 * faults on one PTE both copy it, and only the check that the PTE is still
 * the zero page's, under the PTE lock, keeps the later one from replacing
 * the first one's copy. In spec some faults must have met it.
 */
TEST_F_TIMEOUT(spec, same_page_cow_keeps_every_write, 120)
{
	long long met = same_page_rounds(_metadata, true);

	if (variant->mode == VMS_SPEC)
		EXPECT_GT(met, 0);
	EXPECT_SPECULATED();
}

/*
 * A faulter writing fresh pages while the region flips read-only and back.
 * The region's neighbours are PROT_NONE: it merges with neither as
 * PROT_READ nor as PROT_READ | PROT_WRITE, so mprotect() changes its
 * vm_flags in place (the VMA stays attached, its range unchanged) and only
 * the sequence check can see it.
 */
#define RO_PAGES	256
#define RO_MS		1500
#define RO_MIN_FLIPS	50
/* The longest pause before mprotect(PROT_READ), in microseconds. */
#define RO_JITTER_US	200

struct ro {
	char *region;
	bool cow;		/* read each page before writing it: zero page */
	atomic_long epoch;	/* odd: read-only, and mprotect() has returned */
	atomic_long ro_tries;	/* the faulter's writes begun in a read-only epoch */
	atomic_long faults;	/* its successful writes to a fresh page */
	atomic_long cur;	/* the page it is writing */
	atomic_bool stop;
	atomic_long writes_in_ro;
	char what[96];
};

static void pin_self(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);	/* best effort */
}

static void ro_violation(struct ro *r, const char *fmt, long page, long e)
{
	if (!atomic_fetch_add(&r->writes_in_ro, 1))
		snprintf(r->what, sizeof(r->what), fmt, page, e);
}

/*
 * The faulter writes the region's pages in turn, each fresh, so that it is
 * nearly always inside a fault; at the end it empties the region
 * (MADV_DONTNEED) and starts again. A write begun after
 * mprotect(PROT_READ) returned must fail, and the faulter keeps writing
 * the same page until the region is writable again: a writable PTE left
 * behind by a fault that raced mprotect() shows as a write that succeeds.
 */
static void *ro_faulter(void *arg)
{
	struct ro *r = arg;
	long i = 0;

	pin_self(1);
	while (!atomic_load(&r->stop)) {
		long e = atomic_load(&r->epoch), v = e;
		int code = 0;
		bool wrote;

		atomic_store(&r->cur, i);
		if (r->cow) {
			long z;

			vms_access(r->region + i * page_size, VMS_READ, &z, &code);
		}
		wrote = !vms_access(r->region + i * page_size, VMS_WRITE, &v, &code);
		if (e & 1) {
			atomic_fetch_add(&r->ro_tries, 1);
			if (wrote && atomic_load(&r->epoch) == e)
				ro_violation(r, "page %ld written in read-only epoch %ld", i, e);
			continue;
		}
		if (!wrote || (atomic_load(&r->epoch) & 1))
			continue;	/* read-only now: try this page again */
		atomic_fetch_add(&r->faults, 1);
		if (++i == RO_PAGES) {
			madvise(r->region, RO_PAGES * page_size, MADV_DONTNEED);
			i = 0;
		}
	}
	return NULL;
}

static void spin_us(long us)
{
	for (double end = now() + us / 1e6; now() < end;)
		;
}

/*
 * A fault that copied the VMA while it was writable and reaches the PTE lock
 * after mprotect(PROT_READ) has passed its (empty) PTE would map a writable
 * page into a read-only VMA: only the mmap_lock sequence check stops it.
 * Once mprotect() has returned, no write may succeed until the next
 * mprotect(PROT_READ | PROT_WRITE) begins: neither the faulter's (checked
 * by epoch) nor the main thread's probe of the pages it was writing. In
 * spec, some faults must also have been caught by the sequence under the
 * PTE lock (fault_spec_fallback_race): a run that never met the window
 * would prove nothing. The main thread flips at a random point of the faulter's loop (after it
 * wrote a fresh page, plus up to RO_JITTER_US), so as not to meet it in
 * the same phase each time.
 */
static void readonly_flips(struct __test_metadata *_metadata,
			   const FIXTURE_VARIANT(spec) *variant,
			   FIXTURE_DATA(spec) *self, bool cow)
{
	struct ro r = { .region = map_region(RO_PAGES), .cow = cow };
	size_t len = RO_PAGES * page_size;
	pthread_t t;
	long flips = 0, probed = 0;
	long long race0, race, locked0, locked;
	double end;

	ASSERT_NE(NULL, r.region);
	/* Neighbours of neither protection the region flips between. */
	ASSERT_EQ(0, mprotect(r.region - page_size, page_size, PROT_NONE));
	ASSERT_EQ(0, mprotect(r.region + len, page_size, PROT_NONE));
	pin_self(0);
	srand(getpid());
	race0 = spec_count("fallback_race");
	locked0 = spec_count("fallback_locked");
	ASSERT_EQ(0, pthread_create(&t, NULL, ro_faulter, &r));
	end = now() + RO_MS / 1000.0;
	while (now() < end || (flips < RO_MIN_FLIPS && now() < end + 60)) {
		long tries, faults = atomic_load(&r.faults), c;

		/* Let the faulter fault a fresh page in this writable period. */
		for (double give_up = now() + 0.1;
		     atomic_load(&r.faults) == faults && now() < give_up;)
			sched_yield();
		spin_us(rand() % (RO_JITTER_US + 1));
		ASSERT_EQ(0, mprotect(r.region, len, PROT_READ));
		tries = atomic_load(&r.ro_tries);
		atomic_fetch_add(&r.epoch, 1);	/* odd: read-only from now */
		/* Let it write once in this read-only period. */
		for (double give_up = now() + 0.1;
		     atomic_load(&r.ro_tries) == tries && now() < give_up;)
			sched_yield();
		c = atomic_load(&r.cur);
		for (long i = c > 0 ? c - 1 : 0; i <= c + 1 && i < RO_PAGES; i++) {
			long v = 1;
			int code = 0;

			if (!vms_access(r.region + i * page_size, VMS_WRITE, &v, &code))
				ro_violation(&r, "page %ld writable after mprotect(PROT_READ), epoch %ld",
					     i, atomic_load(&r.epoch));
			probed++;
		}
		atomic_fetch_add(&r.epoch, 1);	/* even: about to be writable */
		ASSERT_EQ(0, mprotect(r.region, len, PROT_READ | PROT_WRITE));
		flips++;
	}
	atomic_store(&r.stop, true);
	pthread_join(t, NULL);
	race = spec_count("fallback_race") - race0;
	locked = spec_count("fallback_locked") - locked0;
	TH_LOG("%ld fresh-page writes; %ld flips, %ld probes; %ld writes in read-only periods%s%s; speculative faults that met mprotect(): %lld caught by the sequence under the PTE lock, %lld found it write-locked",
	       atomic_load(&r.faults), flips, probed,
	       atomic_load(&r.writes_in_ro), r.writes_in_ro ? ", first: " : "",
	       r.what, race, locked);
	EXPECT_GE(flips, RO_MIN_FLIPS);
	EXPECT_EQ(0, atomic_load(&r.writes_in_ro));
	EXPECT_SPECULATED();
	/* The window was met: some faults lost the race under the PTE lock. */
	if (variant->mode == VMS_SPEC)
		EXPECT_GT(race, 0);
	munmap(r.region - page_size, WINDOW);
}

TEST_F_TIMEOUT(spec, readonly_after_mprotect_returns, 120)
{
	readonly_flips(_metadata, variant, self, false);
}

/*
 * The same when the faulter reads each page before it writes it: the write
 * is a copy-on-write fault of the zero page, which the sequence check must
 * stop as it stops a fault at a none PTE.
 */
TEST_F_TIMEOUT(spec, readonly_after_mprotect_returns_cow, 120)
{
	readonly_flips(_metadata, variant, self, true);
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

/* A writer that keeps writing while the main thread forks. */
#define CF_PAGES	64
#define CF_FORKS	40
/* The parent's copy-on-write writes each child lives through, at least. */
#define CF_COW_WRITES	(4 * CF_PAGES)

struct cf {
	char *region;
	atomic_long started;	/* the value being written, stored first */
	atomic_long writes;
	atomic_bool stop;
};

static void *cf_writer(void *arg)
{
	struct cf *c = arg;

	for (long v = 1; !atomic_load(&c->stop); v++) {
		atomic_store(&c->started, v);
		*(volatile long *)(c->region + (v % CF_PAGES) * page_size) = v;
		atomic_fetch_add(&c->writes, 1);
	}
	return NULL;
}

/*
 * The child: told S, the value the writer had started when fork() returned
 * in the parent, and told to check once the parent has written on, it
 * finds no value above S (a parent's write after fork()), then writes
 * its own (negative) values, which the parent must never see. Exit
 * status: 0, or 1 with the first wrong page in *@bad.
 */
static int cf_child(struct cf *c, int rd, long *bad)
{
	long snap, go;

	if (read(rd, &snap, sizeof(snap)) != sizeof(snap) ||
	    read(rd, &go, sizeof(go)) != sizeof(go))
		return 2;
	for (long i = 0; i < CF_PAGES; i++) {
		long v = *(volatile long *)(c->region + i * page_size);

		if (v > snap) {
			bad[0] = i;
			bad[1] = v;
			bad[2] = snap;
			return 1;
		}
	}
	for (long i = 0; i < CF_PAGES; i++)
		*(volatile long *)(c->region + i * page_size) = -1 - i;
	return 0;
}

/*
 * fork() write-protects the parent's anonymous PTEs under its write lock;
 * every page the writer thread then writes is a copy-on-write fault of a
 * page the child shares (speculative in spec). After fork() returns, the
 * child must never see a value the parent writes later, nor the parent a
 * value the child writes: the property the 6.4 fork corruption (a per-VMA
 * lock fault racing fork's copy) broke. The child lives until the parent
 * has made CF_COW_WRITES writes, so its pages stay shared and the
 * parent's faults are copies, not reuses.
 */
TEST_F_TIMEOUT(spec, fork_child_never_sees_later_writes, 180)
{
	struct cf c = { .region = map_region(CF_PAGES) };
	long *bad = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	long wrong = 0, childs_seen = 0;
	pthread_t t;

	ASSERT_NE(NULL, c.region);
	ASSERT_NE(MAP_FAILED, bad);
	/* Present, and 0: no value above what the writer has started. */
	for (long i = 0; i < CF_PAGES; i++)
		*(volatile long *)(c.region + i * page_size) = 0;
	ASSERT_EQ(0, pthread_create(&t, NULL, cf_writer, &c));
	for (int f = 0; f < CF_FORKS; f++) {
		int pipefd[2], status;
		long snap, w;
		pid_t pid;

		ASSERT_EQ(0, pipe(pipefd));
		pid = fork();
		ASSERT_GE(pid, 0);
		if (pid == 0) {
			close(pipefd[1]);
			_exit(cf_child(&c, pipefd[0], bad));
		}
		snap = atomic_load(&c.started);
		close(pipefd[0]);
		ASSERT_EQ(sizeof(snap), write(pipefd[1], &snap, sizeof(snap)));
		w = atomic_load(&c.writes);
		for (double give_up = now() + 5;
		     atomic_load(&c.writes) - w < CF_COW_WRITES && now() < give_up;)
			sched_yield();
		ASSERT_EQ(sizeof(w), write(pipefd[1], &w, sizeof(w)));
		close(pipefd[1]);
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		ASSERT_TRUE(WIFEXITED(status));
		ASSERT_NE(2, WEXITSTATUS(status));
		if (WEXITSTATUS(status) == 1 && !wrong++)
			TH_LOG("fork %d: child read %ld at page %ld, written after fork() returned (%ld)",
			       f, bad[1], bad[0], bad[2]);
		for (long i = 0; i < CF_PAGES; i++)
			if (*(volatile long *)(c.region + i * page_size) < 0)
				childs_seen++;
	}
	atomic_store(&c.stop, true);
	pthread_join(t, NULL);
	TH_LOG("%d forks, %ld writes by the parent: %ld children saw a later write, the parent saw %ld of the children's",
	       CF_FORKS, atomic_load(&c.writes), wrong, childs_seen);
	EXPECT_EQ(0, wrong);
	EXPECT_EQ(0, childs_seen);
	EXPECT_SPECULATED();
	munmap(bad, page_size);
	munmap(c.region - page_size, WINDOW);
}

/* The page frame mapped at @p (/proc/self/pagemap), or 0 if none or hidden. */
static uint64_t pfn_of(const void *p)
{
	uint64_t e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0)
		return 0;
	if (pread(fd, &e, sizeof(e), (uintptr_t)p / page_size * sizeof(e)) != sizeof(e))
		e = 0;
	close(fd);
	return (e >> 63) & 1 ? e & ((1ULL << 55) - 1) : 0;
}

/* Make this process's anonymous pages not PageAnonExclusive: fork a child that exits. */
static int share_then_drop(void)
{
	int status;
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : -1;
}

#define RU_PAGES	64
/*
 * Copies allowed: wp_can_reuse_anon_folio() copies a folio on the LRU
 * that a per-CPU LRU batch (an activation, say) holds a reference on, and
 * 11-16 of 64 pages were copied so in pervma (the kernel's own path) on
 * some runs and none on others.
 */
#define RU_SLACK	(RU_PAGES / 2)

/*
 * After a child that shared them has exited, the parent's pages are not
 * PageAnonExclusive but mapped and referenced only by the parent: a write
 * reuses each in place (do_wp_page() via wp_can_reuse_anon_folio()), in
 * every mode. The data must be the writes', most page frames must not
 * change (all but RU_SLACK), and in spec each reuse must have been
 * speculative (spec_wp_reuse()); a page the reuse checks refuse under the
 * PTE lock falls back, and the locked path copies it.
 */
TEST_F(spec, reuse_in_place_after_fork)
{
	char *r = map_region(RU_PAGES);
	uint64_t pfn[RU_PAGES];
	long long reuse0, done0, done, reused;
	long moved = 0, wrong = 0;

	ASSERT_NE(NULL, r);
	for (long i = 0; i < RU_PAGES; i++)
		*(volatile long *)(r + i * page_size) = i;
	for (long i = 0; i < RU_PAGES; i++)
		pfn[i] = pfn_of(r + i * page_size);
	if (!pfn[0])
		SKIP(return, "/proc/self/pagemap shows no page frames (not root?)");
	ASSERT_EQ(0, share_then_drop());
	reuse0 = vmstat_get("pgreuse");
	done0 = spec_count("done");
	for (long i = 0; i < RU_PAGES; i++)
		*(volatile long *)(r + i * page_size) = 0x100 + i;
	done = spec_count("done") - done0;
	reused = vmstat_get("pgreuse") - reuse0;
	for (long i = 0; i < RU_PAGES; i++) {
		if (*(volatile long *)(r + i * page_size) != 0x100 + i)
			wrong++;
		if (pfn_of(r + i * page_size) != pfn[i])
			moved++;
	}
	TH_LOG("%d writes after the child exited: %lld reuses counted (pgreuse), %ld pages moved (copied), %ld wrong, %lld speculative faults",
	       RU_PAGES, reused, moved, wrong, done);
	EXPECT_EQ(0, wrong);
	EXPECT_LE(moved, RU_SLACK);
	EXPECT_GE(reused, RU_PAGES - moved);
	if (variant->mode == VMS_SPEC)
		EXPECT_GE(done * 100, (RU_PAGES - moved) * 95);
	EXPECT_SPECULATED();
	munmap(r - page_size, WINDOW);
}

#define VS_PAGES	16

/*
 * vmsplice() takes a reference on each page it splices (GUP, no pin), so a
 * page that is not PageAnonExclusive must be copied, not reused, when the
 * parent writes it next: the pipe must still hold what was spliced.
 * Reusing it in place (wp_can_reuse_anon_folio()'s reference count
 * ignored) shows as the pipe returning the later write.
 */
TEST_F(spec, vmspliced_page_is_copied_not_reused)
{
	char *r = map_region(VS_PAGES);
	char *buf = malloc(page_size);
	long bad = 0, first = -1, got = 0;

	ASSERT_NE(NULL, r);
	ASSERT_NE(NULL, buf);
	for (long i = 0; i < VS_PAGES; i++)
		*(volatile long *)(r + i * page_size) = 0xa00 + i;
	ASSERT_EQ(0, share_then_drop());
	for (long i = 0; i < VS_PAGES; i++) {
		struct iovec iov = { .iov_base = r + i * page_size,
				     .iov_len = page_size };
		int pfd[2];

		ASSERT_EQ(0, pipe(pfd));
		ASSERT_EQ(page_size, vmsplice(pfd[1], &iov, 1, 0));
		*(volatile long *)(r + i * page_size) = 0xb00 + i;
		ASSERT_EQ(page_size, read(pfd[0], buf, page_size));
		if (*(long *)buf != 0xa00 + i && !bad++) {
			first = i;
			got = *(long *)buf;
		}
		close(pfd[0]);
		close(pfd[1]);
	}
	TH_LOG("%d pages spliced, then written: %ld pipes returned the later write%s",
	       VS_PAGES, bad, bad ? " (first shown below)" : "");
	if (bad)
		TH_LOG("page %ld: the pipe read %#lx", first, got);
	EXPECT_EQ(0, bad);
	EXPECT_SPECULATED();
	free(buf);
	munmap(r - page_size, WINDOW);
}

/* A memfd of @pages pages, page i holding @tag << 32 | i in its first word. */
static int tagged_memfd(size_t pages, long tag)
{
	int fd = memfd_create("vms-spec", 0);

	if (fd < 0 || ftruncate(fd, pages * page_size))
		return -1;
	for (long i = 0; i < (long)pages; i++) {
		long v = tag << 32 | i;

		if (pwrite(fd, &v, sizeof(v), i * page_size) != sizeof(v))
			return -1;
	}
	return fd;
}

/*
 * @fd's @pages pages mapped read-only (@flags: MAP_SHARED or MAP_PRIVATE)
 * after the first page of a fresh window, which stays mapped so that the
 * window's PTE table outlives any mapping of the file.
 */
static char *map_file(int fd, size_t pages, int flags)
{
	char *w = map_window();

	if (!w)
		return NULL;
	w[0] = 1;
	if (mmap(w + page_size, pages * page_size, PROT_READ, flags | MAP_FIXED,
		 fd, 0) != w + page_size)
		return NULL;
	return w + page_size;
}

#define FA_PAGES	256
#define FA_ROUNDS	20

/*
 * Reads of a file the page cache holds: each fault maps its fault-around
 * window (do_read_fault()), speculatively in spec (spec_file_fault()),
 * for at least 95% of the faults (the target). Every word read must
 * be the file's.
 */
TEST_F(spec, file_reads_fault_around_speculatively)
{
	int flags[] = { MAP_SHARED, MAP_PRIVATE };

	for (int f = 0; f < 2; f++) {
		int fd = tagged_memfd(FA_PAGES, 7);
		char *m = fd < 0 ? NULL : map_file(fd, FA_PAGES, flags[f]);
		struct rusage ru0, ru1;
		long long done0, done, file0;
		long wrong = 0, faults;

		ASSERT_NE(NULL, m);
		done0 = spec_count("done");
		file0 = spec_count("fallback_file");
		getrusage(RUSAGE_SELF, &ru0);
		for (int r = 0; r < FA_ROUNDS; r++) {
			for (long i = 0; i < FA_PAGES; i++)
				if (*(volatile long *)(m + i * page_size) != (7L << 32 | i))
					wrong++;
			ASSERT_EQ(0, madvise(m, FA_PAGES * page_size, MADV_DONTNEED));
		}
		getrusage(RUSAGE_SELF, &ru1);
		done = spec_count("done") - done0;
		faults = ru1.ru_minflt - ru0.ru_minflt;
		TH_LOG("%s: %d reads of %d pages: %ld faults, %lld speculative, %lld fell back (page not mapped by fault-around), %ld words wrong",
		       f ? "MAP_PRIVATE" : "MAP_SHARED", FA_ROUNDS, FA_PAGES,
		       faults, done, spec_count("fallback_file") - file0, wrong);
		EXPECT_EQ(0, wrong);
		/* Fault-around: fewer faults than pages, but some. */
		EXPECT_GE(faults, FA_ROUNDS);
		EXPECT_LT(faults, FA_ROUNDS * FA_PAGES);
		if (variant->mode == VMS_SPEC)
			EXPECT_GE(done * 100, faults * 95);
		munmap(m - page_size, WINDOW);
		close(fd);
	}
	EXPECT_SPECULATED();
}

/* Readers of a file mapping that the main thread replaces or truncates. */
#define FR_READERS	2
#define FR_PAGES	64
#define FR_ROUNDS	300

struct fr {
	char *m;
	/*
	 * 2e - 1 while the main thread makes epoch e's change, 2e once it is
	 * done, until the next change begins.
	 */
	atomic_long phase;
	atomic_bool stop;
	atomic_long stale;	/* reads that saw what an earlier epoch mapped */
	atomic_long reads;
	long (*expect)(struct fr *f, long epoch, long page, int sig, long v);
	char what[96];
};

static void fr_stale(struct fr *f, const char *fmt, long page, long v, long e)
{
	if (!atomic_fetch_add(&f->stale, 1))
		snprintf(f->what, sizeof(f->what), fmt, page, v, e);
}

/*
 * Each reader reads its pages in turn and zaps the page it read, so that
 * the next read of it is a fault (and its fault-around maps its
 * neighbours). A read begun and ended within one epoch, with no change
 * under way, must give what that epoch maps (f->expect()).
 */
static void *fr_reader(void *arg)
{
	struct fr *f = arg;
	static atomic_int next_id;
	long i = atomic_fetch_add(&next_id, 1) % FR_READERS;

	while (!atomic_load(&f->stop)) {
		long p = atomic_load(&f->phase), v = 0;
		int code = 0, sig;

		sig = vms_access(f->m + i * page_size, VMS_READ, &v, &code);
		if (!(p & 1) && atomic_load(&f->phase) == p &&
		    !f->expect(f, p / 2, i, sig, v))
			fr_stale(f, "page %ld read %#lx in epoch %ld", i, v, p / 2);
		atomic_fetch_add(&f->reads, 1);
		madvise(f->m + i * page_size, page_size, MADV_DONTNEED);
		i = (i + FR_READERS) % FR_PAGES;
	}
	return NULL;
}

/* The main thread reads every page once epoch @e is published. */
static void fr_probe(struct fr *f, long e)
{
	for (long i = 0; i < FR_PAGES; i++) {
		long v = 0;
		int code = 0, sig;

		sig = vms_access(f->m + i * page_size, VMS_READ, &v, &code);
		if (!f->expect(f, e, i, sig, v))
			fr_stale(f, "page %ld read %#lx by the main thread in epoch %ld",
				 i, v, e);
	}
}

static void fr_stop(struct fr *f, pthread_t *t)
{
	atomic_store(&f->stop, true);
	for (int i = 0; i < FR_READERS; i++)
		pthread_join(t[i], NULL);
}

/* Epoch e maps the file tagged 1 + e % 2. */
static long fr_remap_expect(struct fr *f, long e, long page, int sig, long v)
{
	return !sig && v == ((1 + e % 2) << 32 | page);
}

/*
 * One file's mapping is unmapped and another file mapped at the same
 * address. munmap() detaches the VMA, downgrades mmap_lock, zaps the PTEs
 * and frees the VMA (the index forgets it only then): a speculative fault
 * that copied the old VMA and reaches the PTE lock after the zap would map
 * the old file's page where the new mapping comes (the guard page keeps
 * the PTE table): only validation under the PTE lock
 * (fault_spec_validate(): the sequence, or the attached check) stops it.
 * Once mmap() has returned, every read must give the new file's data: the
 * readers' and the main thread's, which reads every page after each
 * replacement.
 */
TEST_F_TIMEOUT(spec, file_remap_never_shows_old_file, 180)
{
	struct fr f = { .expect = fr_remap_expect };
	int fd[2] = { tagged_memfd(FR_PAGES, 1), tagged_memfd(FR_PAGES, 2) };
	pthread_t t[FR_READERS];
	long long race0 = spec_count("fallback_race");
	size_t len = FR_PAGES * page_size;

	ASSERT_LE(0, fd[0]);
	ASSERT_LE(0, fd[1]);
	f.m = map_file(fd[0], FR_PAGES, MAP_SHARED);
	ASSERT_NE(NULL, f.m);
	for (int i = 0; i < FR_READERS; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, fr_reader, &f));
	for (long e = 1; e <= FR_ROUNDS; e++) {
		sched_yield();
		atomic_store(&f.phase, 2 * e - 1);
		ASSERT_EQ(0, munmap(f.m, len));
		ASSERT_EQ(f.m, mmap(f.m, len, PROT_READ,
				    MAP_SHARED | MAP_FIXED_NOREPLACE, fd[e % 2], 0));
		atomic_store(&f.phase, 2 * e);
		fr_probe(&f, e);
	}
	fr_stop(&f, t);
	TH_LOG("%d replacements, %ld reads: %ld showed the replaced file%s%s; %lld speculative faults caught by validation",
	       FR_ROUNDS, atomic_load(&f.reads), atomic_load(&f.stale),
	       f.stale ? ", first: " : "", f.what,
	       spec_count("fallback_race") - race0);
	EXPECT_EQ(0, atomic_load(&f.stale));
	EXPECT_SPECULATED();
	munmap(f.m - page_size, WINDOW);
	close(fd[0]);
	close(fd[1]);
}

/* Odd epochs: the file is cut to its first half; even: whole again. */
static long fr_trunc_expect(struct fr *f, long e, long page, int sig, long v)
{
	if (e % 2 && page >= FR_PAGES / 2)
		return sig == SIGBUS;
	return !sig && v == (3L << 32 | page);
}

/*
 * ftruncate() takes no mmap_lock: it unmaps the cut range through the
 * file's i_mmap, removes its folios under their lock, and unmaps again.
 * Faults in the cut range race it. Once ftruncate() has returned, a read
 * there must raise SIGBUS: a PTE a fault left behind would let it read a
 * page that is no longer the file's. (The speculative fault relies on the
 * checks the locked fault-around makes: folio lock, mapping, i_size.)
 */
TEST_F_TIMEOUT(spec, file_truncate_leaves_nothing_mapped, 180)
{
	struct fr f = { .expect = fr_trunc_expect };
	int fd = tagged_memfd(FR_PAGES, 3);
	pthread_t t[FR_READERS];
	size_t half = FR_PAGES / 2 * page_size;

	ASSERT_LE(0, fd);
	f.m = map_file(fd, FR_PAGES, MAP_SHARED);
	ASSERT_NE(NULL, f.m);
	for (int i = 0; i < FR_READERS; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, fr_reader, &f));
	for (long e = 1; e <= FR_ROUNDS; e++) {
		sched_yield();
		atomic_store(&f.phase, 2 * e - 1);
		if (e % 2) {
			ASSERT_EQ(0, ftruncate(fd, half));
		} else {
			ASSERT_EQ(0, ftruncate(fd, 2 * half));
			for (long i = FR_PAGES / 2; i < FR_PAGES; i++) {
				long v = 3L << 32 | i;

				ASSERT_EQ(sizeof(v), pwrite(fd, &v, sizeof(v), i * page_size));
			}
		}
		atomic_store(&f.phase, 2 * e);
		fr_probe(&f, e);
	}
	fr_stop(&f, t);
	TH_LOG("%d truncations and regrowths, %ld reads: %ld saw a page the file no longer had%s%s",
	       FR_ROUNDS, atomic_load(&f.reads), atomic_load(&f.stale),
	       f.stale ? ", first: " : "", f.what);
	EXPECT_EQ(0, atomic_load(&f.stale));
	EXPECT_SPECULATED();
	munmap(f.m - page_size, WINDOW);
	close(fd);
}

/* fail_fault_spec (CONFIG_FAIL_FAULT_SPEC): makes validation fail. */
#define FFS	"/sys/kernel/debug/fail_fault_spec/"

#define SKIP_WITHOUT_FFS()						\
	do {								\
		if (access(FFS, F_OK))					\
			SKIP(return, "no " FFS ": a kernel without CONFIG_FAIL_FAULT_SPEC"); \
	} while (0)

static int ffs_write(const char *name, const char *v)
{
	char path[128];
	int fd, ret = 0;

	snprintf(path, sizeof(path), FFS "%s", name);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	if (write(fd, v, strlen(v)) != (ssize_t)strlen(v))
		ret = -errno;
	close(fd);
	return ret;
}

/* Every speculative fault's validation fails from now on (@on), or none. */
static int fail_validation(bool on)
{
	int ret;

	if (!on)
		return ffs_write("probability", "0");
	ret = ffs_write("verbose", "0");
	if (!ret)
		ret = ffs_write("interval", "1");
	if (!ret)
		ret = ffs_write("times", "-1");
	if (!ret)
		ret = ffs_write("probability", "100");
	return ret;
}

#define FV_PAGES	64

/* How many of @r's FV_PAGES pages do not hold @base plus their index. */
static long fv_wrong(char *r, long base)
{
	long wrong = 0;

	for (long i = 0; i < FV_PAGES; i++)
		wrong += *(volatile long *)(r + i * page_size) != base + i;
	return wrong;
}

/*
 * With every validation failing, each kind of speculative fault is
 * finished under the VMA lock with what it prepared: a new page, the zero
 * page, a copy of the zero page, a page reused after fork(), a copy of a
 * page a child shares. The data must be right (the child's view too), and
 * in spec nearly every fault (all but the region's first, which has no
 * anon_vma yet) finished so.
 */
TEST_F(spec, failed_validation_finishes_with_its_page)
{
	char *r = map_region(FV_PAGES);
	long long fin0, race0, fin, race;
	int gate[2], status;
	pid_t child;

	ASSERT_NE(NULL, r);
	SKIP_WITHOUT_FFS();
	r[0] = 1;	/* the region's anon_vma, on the locked path */
	ASSERT_EQ(0, fail_validation(true));
	fin0 = spec_count("finished");
	race0 = spec_count("fallback_race");
	/* New pages, then the zero page and its copy. */
	for (long i = 0; i < FV_PAGES / 2; i++)
		*(volatile long *)(r + i * page_size) = 0x100 + i;
	for (long i = FV_PAGES / 2; i < FV_PAGES; i++)
		EXPECT_EQ(0, *(volatile long *)(r + i * page_size));
	for (long i = FV_PAGES / 2; i < FV_PAGES; i++)
		*(volatile long *)(r + i * page_size) = 0x100 + i;
	EXPECT_EQ(0, fv_wrong(r, 0x100));
	/* Reused in place after a child that shared them exited. */
	ASSERT_EQ(0, share_then_drop());
	for (long i = 0; i < FV_PAGES; i++)
		*(volatile long *)(r + i * page_size) = 0x200 + i;
	EXPECT_EQ(0, fv_wrong(r, 0x200));
	/* Copied while a child shares them: it must keep seeing its own. */
	ASSERT_EQ(0, pipe(gate));
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		char c;

		close(gate[1]);
		if (read(gate[0], &c, 1) != 0)
			_exit(2);
		_exit(fv_wrong(r, 0x200) ? 1 : 0);
	}
	close(gate[0]);
	for (long i = 0; i < FV_PAGES; i++)
		*(volatile long *)(r + i * page_size) = 0x300 + i;
	close(gate[1]);
	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		TH_LOG("the child saw the parent's later writes (status %#x)", status);
	}
	EXPECT_EQ(0, fv_wrong(r, 0x300));
	ASSERT_EQ(0, fail_validation(false));
	fin = spec_count("finished") - fin0;
	race = spec_count("fallback_race") - race0;
	/* All but page 0's first write: 7 * FV_PAGES / 2 - 1 faults. */
	TH_LOG("%s: %d faults; %lld failed validation, %lld finished under the VMA lock",
	       vms_modes[variant->mode], 7 * FV_PAGES / 2 - 1, race, fin);
	if (variant->mode == VMS_SPEC) {
		EXPECT_GE(fin, 3 * FV_PAGES);
	} else {
		EXPECT_EQ(0, fin);
	}
	munmap(r - page_size, WINDOW);
}

/*
 * same_page_rounds() with every validation failing: two faults on one PTE
 * each prepare a page (new, or a copy of the zero page with @cow), fail
 * validation, and are finished in turn under the VMA lock; only
 * fault_spec_finish()'s check that the PTE is still the one the page was
 * prepared for keeps the later from replacing the earlier's page, and a
 * write with it. In spec some faults must have been finished so.
 */
static void same_page_rounds_failing(struct __test_metadata *_metadata,
				     int mode, bool cow)
{
	long long fin;

	ASSERT_EQ(0, fail_validation(true));
	fin = spec_count("finished");
	same_page_rounds(_metadata, cow);
	EXPECT_EQ(0, fail_validation(false));
	fin = spec_count("finished") - fin;
	TH_LOG("%s: %lld faults finished under the VMA lock", vms_modes[mode],
	       fin);
	if (mode == VMS_SPEC) {
		EXPECT_GT(fin, 0);
	} else {
		EXPECT_EQ(0, fin);
	}
}

TEST_F_TIMEOUT(spec, same_page_faults_keep_every_write_failing_validation, 120)
{
	SKIP_WITHOUT_FFS();
	same_page_rounds_failing(_metadata, variant->mode, false);
}

TEST_F_TIMEOUT(spec, same_page_cow_keeps_every_write_failing_validation, 120)
{
	SKIP_WITHOUT_FFS();
	same_page_rounds_failing(_metadata, variant->mode, true);
}

TEST_HARNESS_MAIN
