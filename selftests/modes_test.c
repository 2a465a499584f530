// SPDX-License-Identifier: GPL-2.0
/*
 * vmashadow modes driven through the real fault path: each test body runs
 * once per mode (stock, mmap, pervma, shadow, spec). Faults are caused by this
 * process, then the module's statistics and /proc/vmstat are read back: the
 * counters of the active mode must move, those of the other modes must not,
 * and the data must be right.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/resource.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "vmashadow.h"

/*
 * Tests that load the module run its KUnit suites at each load (seconds
 * under KASAN and TCG, tens of seconds on a loaded host): more than the
 * harness's default of 30 s.
 */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 300

#define PAGES	256

static long page_size;

FIXTURE(modes) {
	int mode;
	bool loaded_here;
};

VMS_FIXTURE_VARIANT_MODES(modes);

FIXTURE_SETUP(modes)
{
	page_size = sysconf(_SC_PAGESIZE);
	self->mode = variant->mode;
	vms_probe_install();
	VMS_SETUP_MODE(self->mode, self->loaded_here);
}

FIXTURE_TEARDOWN(modes)
{
	vms_teardown_mode(self->loaded_here);
}

static char *map_anon(size_t pages)
{
	return vms_map_anon(pages * page_size);
}

/* Write-fault every page @rounds times, zapping in between; check the data. */
static int fault_rounds(char *p, size_t pages, int rounds)
{
	for (int r = 0; r < rounds; r++) {
		for (size_t i = 0; i < pages; i++)
			p[i * page_size] = (char)(i + r);
		for (size_t i = 0; i < pages; i++)
			if (p[i * page_size] != (char)(i + r))
				return -1;
		if (madvise(p, pages * page_size, MADV_DONTNEED))
			return -1;
	}
	return 0;
}

/* The events a fault in each mode is counted under, and what it must not be. */
static uint64_t answered(const struct vms_stats *s, int m)
{
	static const char *const ev[] = { "passed", "mmap", "pervma",
					  "candidates", "no_candidate" };
	uint64_t t = 0;

	for (size_t i = 0; i < sizeof(ev) / sizeof(ev[0]); i++)
		t += vms_count(s, ev[i], m) > 0 ? vms_count(s, ev[i], m) : 0;
	return t;
}

/* Returns 0 if the access succeeded, else the signal; *code gets si_code. */
static int probe(char *p, bool write, int *code)
{
	long v = 1;

	return vms_access(p, write ? VMS_WRITE : VMS_READ, &v, code);
}

TEST_F(modes, fault_semantics)
{
	char path[] = "/tmp/vmashadow-XXXXXX";
	char *p, *ro, *none, *file;
	int fd, code = 0;

	/* Unmapped: SEGV_MAPERR. */
	p = map_anon(2);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, munmap(p, 2 * page_size));
	EXPECT_EQ(SIGSEGV, probe(p, false, &code));
	EXPECT_EQ(SEGV_MAPERR, code);
	EXPECT_EQ(SIGSEGV, probe(p, true, &code));
	EXPECT_EQ(SEGV_MAPERR, code);

	/* Read-only: reads work, writes get SEGV_ACCERR. */
	ro = mmap(NULL, page_size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	EXPECT_EQ(0, probe(ro, false, &code));
	EXPECT_EQ(SIGSEGV, probe(ro, true, &code));
	EXPECT_EQ(SEGV_ACCERR, code);

	/* PROT_NONE: any access gets SEGV_ACCERR. */
	none = mmap(NULL, page_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, none);
	EXPECT_EQ(SIGSEGV, probe(none, false, &code));
	EXPECT_EQ(SEGV_ACCERR, code);
	EXPECT_EQ(SIGSEGV, probe(none, true, &code));
	EXPECT_EQ(SEGV_ACCERR, code);

	/* A shared file mapping past EOF: SIGBUS. */
	fd = mkstemp(path);
	ASSERT_GE(fd, 0);
	unlink(path);
	ASSERT_EQ(0, ftruncate(fd, page_size));
	file = mmap(NULL, 2 * page_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, file);
	EXPECT_EQ(0, probe(file, true, &code));
	EXPECT_EQ(SIGBUS, probe(file + page_size, false, &code));

	munmap(file, 2 * page_size);
	close(fd);
	munmap(ro, page_size);
	munmap(none, page_size);
}

TEST_F(modes, anon_faults_counted_in_active_mode)
{
	const int rounds = 8;
	struct vms_stats s;
	char *p = map_anon(PAGES);
	long long minflt_faults;
	struct rusage ru0, ru1;

	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, getrusage(RUSAGE_SELF, &ru0));
	ASSERT_EQ(0, fault_rounds(p, PAGES, rounds));
	ASSERT_EQ(0, getrusage(RUSAGE_SELF, &ru1));
	minflt_faults = ru1.ru_minflt - ru0.ru_minflt;
	/* The faults really happened. */
	ASSERT_GE(minflt_faults, PAGES * rounds);

	ASSERT_EQ(0, vms_stats(&s));
	ASSERT_STREQ(vms_modes[self->mode], s.mode);
	/* In stock the core does not consult the hook: nothing counts. */
	if (self->mode == VMS_STOCK) {
		EXPECT_EQ(0, answered(&s, 0));
	} else {
		EXPECT_GE(answered(&s, self->mode), PAGES * rounds);
	}
	for (int m = 0; m < VMS_NR_MODES; m++) {
		if (m == self->mode)
			continue;
		EXPECT_EQ(0, vms_mode_total(&s, m)) {
			TH_LOG("mode %s moved", vms_modes[m]);
		}
	}

	switch (self->mode) {
	case 0:
		/* Not consulted: no lookup, no candidate, no fill. */
		EXPECT_EQ(0, vms_count(&s, "fill_pervma", 0) +
			  vms_count(&s, "fill_careful", 0));
		EXPECT_EQ(0, s.hits + s.misses);
		break;
	case 1:
		EXPECT_GE(vms_count(&s, "mmap", 1), PAGES * rounds);
		/* Nothing learns from the careful path in this mode. */
		EXPECT_EQ(0, vms_count(&s, "fill_careful", 1));
		break;
	case 2:
		EXPECT_GE(vms_count(&s, "pervma", 2), PAGES * rounds);
		EXPECT_GE(vms_count(&s, "fill_pervma", 2), PAGES * rounds / 2);
		EXPECT_EQ(0, s.hits);
		break;
	case 3:
	case VMS_SPEC:
		EXPECT_GE(vms_count(&s, "candidates", self->mode) +
			  vms_count(&s, "no_candidate", self->mode),
			  PAGES * rounds);
		EXPECT_GE(vms_count(&s, "stored", self->mode), 1);
		EXPECT_GE(s.indexes, 1);
		EXPECT_GE(s.entries, 1);
		if (self->mode == VMS_SHADOW) {
			EXPECT_EQ(0, s.spec_done);
		} else {
			EXPECT_GE(s.spec_done, 1);
		}
		break;
	}
	munmap(p, PAGES * page_size);
}

TEST_F(modes, shadow_index_serves_steady_faults)
{
	const int rounds = 40;
	struct vms_stats s;
	uint64_t faults;
	char *p = map_anon(PAGES);

	ASSERT_NE(NULL, p);
	/* Warm up: the first fault of the VMA fills the index. */
	ASSERT_EQ(0, fault_rounds(p, PAGES, 1));
	ASSERT_EQ(0, vms_write("reset", "1"));
	ASSERT_EQ(0, fault_rounds(p, PAGES, rounds));
	ASSERT_EQ(0, vms_stats(&s));
	faults = answered(&s, self->mode);
	if (self->mode == VMS_STOCK) {
		/* Not consulted at all in stock. */
		munmap(p, PAGES * page_size);
		EXPECT_EQ(0, faults);
		EXPECT_EQ(0, s.hits);
		return;
	}
	ASSERT_GE(faults, PAGES * rounds);
	if (self->mode == VMS_SPEC) {
		long fallbacks = s.spec_vma + s.spec_table + s.spec_pte +
				 s.spec_nomem + s.spec_race + s.spec_locked +
				 s.spec_file;

		TH_LOG("spec: %ld of %llu faults speculative; fallbacks: vma %ld table %ld pte %ld nomem %ld race %ld (%ld finished) locked %ld file %ld",
		       s.spec_done, (unsigned long long)faults, s.spec_vma,
		       s.spec_table, s.spec_pte, s.spec_nomem, s.spec_race,
		       s.spec_finished, s.spec_locked, s.spec_file);
		/* At least 95% handled without a lock (the target). */
		EXPECT_GT(s.spec_done * 100, (long)(faults * 95));
		/*
		 * Every fallback was validated as a candidate instead, or
		 * finished under the VMA lock.
		 */
		EXPECT_GE(s.hits + s.misses + s.spec_finished, fallbacks);
		munmap(p, PAGES * page_size);
		return;
	}
	if (self->mode != VMS_SHADOW) {
		EXPECT_EQ(0, s.hits);
		EXPECT_EQ(0, s.spec_done);
		return;
	}
	TH_LOG("shadow: %ld validated hits of %llu faults (%ld misses)",
	       s.hits, (unsigned long long)faults, s.misses);
	/* More than 95% of the faults validated from the index. */
	EXPECT_GT(s.hits * 100, (long)(faults * 95));
	munmap(p, PAGES * page_size);
}

TEST_F(modes, file_shared_faults)
{
	const size_t pages = 64;
	char path[] = "/tmp/vmashadow-XXXXXX";
	int fd = mkstemp(path);
	char *p, *q;

	ASSERT_GE(fd, 0);
	unlink(path);
	ASSERT_EQ(0, ftruncate(fd, pages * page_size));
	p = mmap(NULL, pages * page_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	for (size_t i = 0; i < pages; i++)
		p[i * page_size] = (char)(i * 3);
	ASSERT_EQ(0, munmap(p, pages * page_size));
	/* A new mapping faults the file pages back in: same data. */
	q = mmap(NULL, pages * page_size, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, q);
	for (size_t i = 0; i < pages; i++)
		ASSERT_EQ((char)(i * 3), q[i * page_size]);
	munmap(q, pages * page_size);
	close(fd);
}

/*
 * read() into pages that are not mapped yet: every page faults in
 * copy_to_user(), in kernel mode, with an exception table fixup. Returns
 * how many of them the per-VMA lock served (vma_lock_success delta).
 */
/* Faults handled under a per-VMA lock, or speculatively under none. */
static long long lockless_faults(void)
{
	long long spec = vmstat_get("fault_spec_done");

	return vmstat_get("vma_lock_success") + (spec > 0 ? spec : 0);
}

static long long kernel_faults_lockless(struct __test_metadata *_metadata,
					size_t pages)
{
	char path[] = "/tmp/vmashadow-XXXXXX";
	int fd = mkstemp(path);
	char *src = malloc(pages * page_size), *dst;
	long long before, after;

	ASSERT_GE(fd, 0);
	ASSERT_NE(NULL, src);
	unlink(path);
	memset(src, 0x5a, pages * page_size);
	ASSERT_EQ((ssize_t)(pages * page_size), pwrite(fd, src, pages * page_size, 0));
	dst = map_anon(pages);
	ASSERT_NE(NULL, dst);

	before = lockless_faults();
	ASSERT_EQ((ssize_t)(pages * page_size), pread(fd, dst, pages * page_size, 0));
	after = lockless_faults();
	ASSERT_EQ(0, memcmp(src, dst, pages * page_size));

	munmap(dst, pages * page_size);
	free(src);
	close(fd);
	return after - before;
}

TEST_F(modes, kernel_uaccess_faults_follow_knob)
{
	const size_t pages = 128;
	long long on, off;
	struct vms_stats s;

	if (vmstat_get("vma_lock_success") < 0)
		SKIP(return, "no vma_lock_success in /proc/vmstat (PER_VMA_LOCK_STATS=n)");

	ASSERT_EQ(0, vms_write("kernel_faults", "1"));
	on = kernel_faults_lockless(_metadata, pages);
	ASSERT_EQ(0, vms_write("kernel_faults", "0"));
	off = kernel_faults_lockless(_metadata, pages);
	ASSERT_EQ(0, vms_write("kernel_faults", "1"));
	ASSERT_EQ(0, vms_stats(&s));
	TH_LOG("%s: per-VMA-locked faults during read(): knob on %lld, off %lld",
	       vms_modes[self->mode], on, off);

	/* Only a handful of user faults can land in the window. */
	EXPECT_LT(off, (long long)pages / 4);
	if (self->mode >= 2) {
		EXPECT_GE(on, (long long)pages);
	} else {
		EXPECT_LT(on, (long long)pages / 4);
	}
}

/* One faulting thread: its own region, a shared stop flag and error count. */
struct churn {
	char *p;
	size_t pages;
	volatile bool *stop;
	int errors;
};

static void *fault_loop(void *arg)
{
	struct churn *c = arg;

	while (!*c->stop)
		if (fault_rounds(c->p, c->pages, 1))
			c->errors++;
	return NULL;
}

TEST_F(modes, switch_modes_under_load)
{
	volatile bool stop = false;
	struct churn c[2];
	pthread_t t[2];

	for (int i = 0; i < 2; i++) {
		c[i] = (struct churn){ .pages = 64, .stop = &stop };
		c[i].p = map_anon(c[i].pages);
		ASSERT_NE(NULL, c[i].p);
		ASSERT_EQ(0, pthread_create(&t[i], NULL, fault_loop, &c[i]));
	}
	for (int i = 0; i < 200; i++) {
		ASSERT_EQ(0, vms_write("mode", vms_modes[i % VMS_NR_MODES]));
		ASSERT_EQ(0, vms_write("kernel_faults", i & 4 ? "0" : "1"));
		usleep(500);
	}
	stop = true;
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		EXPECT_EQ(0, c[i].errors);
		munmap(c[i].p, c[i].pages * page_size);
	}
}

/* A value split over two writes, and a write running into an unmapped page. */
static void partial_writes_rejected(struct __test_metadata *_metadata,
				    const char *const *files, int nr)
{
	long pg = sysconf(_SC_PAGESIZE);
	int fd = open(VMS_DEBUGFS "/mode", O_WRONLY | O_CLOEXEC);
	char *two;

	ASSERT_GE(fd, 0);
	EXPECT_EQ(-1, write(fd, "per", 3));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, write(fd, "vma", 3));
	EXPECT_EQ(EINVAL, errno);
	close(fd);

	two = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, two);
	ASSERT_EQ(0, munmap(two + pg, pg));
	memcpy(two + pg - 3, "per", 3);
	for (int i = 0; i < nr; i++)
		EXPECT_EQ(-EFAULT, vms_write_n(files[i], two + pg - 3, 6));
	munmap(two, pg);
}

TEST(bad_writes_rejected)
{
	static const struct { const char *file, *bad; } cases[] = {
		{ "mode", "bogus" }, { "mode", "" }, { "mode", "shadowx" },
		{ "mode", "3" }, { "mode", "stock mmap" },
		{ "kernel_faults", "2" }, { "kernel_faults", "yes" },
		{ "kernel_faults", "-1" }, { "kernel_faults", "" },
		{ "index_cap", "0" }, { "index_cap", "1048577" },
		{ "admit_ms", "10001" }, { "admit_ms", "-1" }, { "admit_ms", "1ms" },
		{ "min_age_ms", "10001" }, { "min_age_ms", "-1" }, { "min_age_ms", "x" },
		{ "index_cap", "-5" }, { "index_cap", "12abc" },
		{ "index_cap", "99999999999999999999999" },
		{ "reset", "0" }, { "reset", "2" }, { "reset", "yes" },
	};
	static const char *const files[] = { "mode", "kernel_faults", "index_cap",
					     "admit_ms", "min_age_ms" };
	const int nr_files = sizeof(files) / sizeof(files[0]);
	char before[5][64], after[64], huge[4096];
	bool loaded_here = false;

	if (geteuid())
		SKIP(return, "must be run as root");
	if (!vms_loaded()) {
		if (!vms_ko_path())
			SKIP(return, "vmashadow.ko not found ($VMASHADOW_KO)");
		ASSERT_EQ(0, vms_load(NULL));
		loaded_here = true;
	}
	for (int i = 0; i < nr_files; i++)
		ASSERT_EQ(0, vms_read(files[i], before[i], sizeof(before[i])));

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		EXPECT_EQ(-EINVAL, vms_write(cases[i].file, cases[i].bad)) {
			TH_LOG("%s <- '%s'", cases[i].file, cases[i].bad);
		}
	}
	memset(huge, '1', sizeof(huge));
	for (int i = 0; i < nr_files; i++)
		EXPECT_EQ(-EINVAL, vms_write_n(files[i], huge, sizeof(huge)));
	EXPECT_EQ(-EINVAL, vms_write_n("reset", huge, sizeof(huge)));
	EXPECT_EQ(-EINVAL, vms_write_n("mode", "sha\0dow", 7));
	partial_writes_rejected(_metadata, files, nr_files);

	for (int i = 0; i < nr_files; i++) {
		ASSERT_EQ(0, vms_read(files[i], after, sizeof(after)));
		EXPECT_STREQ(before[i], after) {
			TH_LOG("%s changed", files[i]);
		}
	}
	/* Read-only and write-only files stay so. */
	EXPECT_NE(0, vms_write("stats", "1"));
	if (loaded_here)
		vms_unload();
}

TEST(bad_module_parameters_refused)
{
	static const char *const bad[] = {
		"mode=99", "mode=-1", "mode=shadow", "index_cap=0",
		"index_cap=1048577", "kernel_faults=maybe", "admit_ms=10001",
		"min_age_ms=10001",
	};
	bool was_loaded;
	char buf[64];

	if (geteuid())
		SKIP(return, "must be run as root");
	if (!vms_ko_path())
		SKIP(return, "vmashadow.ko not found ($VMASHADOW_KO)");
	was_loaded = vms_loaded();
	if (was_loaded)
		ASSERT_EQ(0, vms_unload());
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_NE(0, vms_load(bad[i])) {
			TH_LOG("%s accepted", bad[i]);
		}
		EXPECT_FALSE(vms_loaded()) {
			TH_LOG("%s left it loaded", bad[i]);
		}
		if (vms_loaded())
			vms_unload();
	}
	/* Good values take. */
	ASSERT_EQ(0, vms_load("mode=2 kernel_faults=0 index_cap=64 admit_ms=0 min_age_ms=7"));
	ASSERT_EQ(0, vms_read("mode", buf, sizeof(buf)));
	EXPECT_STREQ("pervma", buf);
	ASSERT_EQ(0, vms_read("kernel_faults", buf, sizeof(buf)));
	EXPECT_STREQ("0", buf);
	ASSERT_EQ(0, vms_read("index_cap", buf, sizeof(buf)));
	EXPECT_STREQ("64", buf);
	ASSERT_EQ(0, vms_read("admit_ms", buf, sizeof(buf)));
	EXPECT_STREQ("0", buf);
	ASSERT_EQ(0, vms_read("min_age_ms", buf, sizeof(buf)));
	EXPECT_STREQ("7", buf);
	ASSERT_EQ(0, vms_unload());
	if (was_loaded)
		ASSERT_EQ(0, vms_load(NULL));
}

TEST_HARNESS_MAIN
