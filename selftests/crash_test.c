// SPDX-License-Identifier: GPL-2.0
/*
 * The 2008 rule, tested: a kernel-mode fault with no exception table fixup,
 * taken while another task holds mmap_lock for writing, must oops instead
 * of deadlocking, in every mode: such a fault never takes the lockless
 * paths. And its twin, what the lockless path buys: a real uaccess
 * (copy_to_user from pread() into a fresh buffer) under the same writer
 * completes without waiting in pervma and shadow, and waits in stock and
 * mmap.
 *
 * It oopses the kernel on purpose, so it runs in a guest boot of its own
 * (scripts/guest/guest-crash.sh), with vmashadow.ko loaded and the trigger of
 * the test module vmashadow_crash.ko (crash/vmashadow_crash.c), in the
 * style of LKDTM. The boot's splat check allows exactly these oopses.
 *
 * Also here, because it needs the same trigger: a kernel thread that
 * borrows the mm (kthread_use_mm()) never takes the lockless paths, so its
 * uaccess fault waits for the writer in every mode.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <time.h>

#include "kselftest_harness.h"
#include "vmashadow.h"

#define TRIGGER		"/sys/kernel/debug/vmashadow_crash/trigger"
#define HOLD_MS		3000

static int trigger_n(const char *cmd, size_t len)
{
	int fd = open(TRIGGER, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, cmd, len);
	n = n < 0 ? -errno : 0;
	close(fd);
	return n;
}

static int trigger(const char *cmd)
{
	return trigger_n(cmd, strlen(cmd));
}

/* How many times the kernel log says @what. */
static int klog_count(const char *what)
{
	static char buf[1 << 20];
	int n = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0), count = 0;
	char *p;

	if (n <= 0 || n > (int)sizeof(buf))
		n = sizeof(buf);
	n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, n);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	for (p = buf; (p = strstr(p, what)); p += strlen(what))
		count++;
	return count;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct writer {
	atomic_int tid;
	int ret;
};

static void *hold_writer(void *arg)
{
	struct writer *w = arg;
	char cmd[32];

	atomic_store(&w->tid, gettid());
	snprintf(cmd, sizeof(cmd), "hold %d", HOLD_MS);
	w->ret = trigger(cmd);
	return NULL;
}

/*
 * Waits until the writer sleeps in the trigger with mmap_lock held (its
 * wchan is msleep): a fixed delay is not enough on a loaded TCG host.
 */
static bool writer_holds_lock(struct writer *w)
{
	char path[64], wchan[64];

	for (int i = 0; i < 3000; i++) {
		int tid = atomic_load(&w->tid), fd;
		ssize_t n;

		if (tid) {
			snprintf(path, sizeof(path), "/proc/self/task/%d/wchan", tid);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd >= 0) {
				n = read(fd, wchan, sizeof(wchan) - 1);
				close(fd);
				if (n > 0) {
					wchan[n] = '\0';
					if (!strcmp(wchan, "msleep"))
						return true;
				}
			}
		}
		usleep(1000);
	}
	return false;
}

struct reader {
	char cmd[64];
	atomic_bool go;
	atomic_bool returned;
	int ret;
	double t_start;		/* when the trigger write began */
	double elapsed;		/* seconds it took */
};

/*
 * Started before the writer takes mmap_lock: creating a thread maps its
 * stack, which would wait for the writer.
 */
static void *read_user(void *arg)
{
	struct reader *r = arg;

	/*
	 * The first clock read faults in the vDSO data page, which may need
	 * mmap_lock: do it before the writer takes it.
	 */
	double t0 = now();

	while (!atomic_load(&r->go))
		usleep(1000);
	t0 = now();
	r->t_start = t0;
	r->ret = trigger(r->cmd);
	r->elapsed = now() - t0;
	/* Not reached if the read oopsed: the oops kills this thread. */
	atomic_store(&r->returned, true);
	return NULL;
}

/*
 * Bad commands fail with EINVAL and do nothing: none of these may oops (a
 * kernel address must never reach the no-fixup read), hold the lock or
 * start a thread. Runs first, before any oops.
 */
TEST(trigger_refuses_bad_input)
{
	static const char *const bad[] = {
		"", " ", "\n", "hold", "read", "borrow", "jump 1", "hold 1 2",
		"hold 0", "hold 10001", "hold -1", "hold 4294967297", "hold 1x",
		"hold 0x10", "read 0", "read 0x0", "read 0x", "read -1", "read xyz",
		"read ffffffffffffffff", "read 10000000000000000",
		"read ffff888000000000", "read 0xffffffff81000000",
		"borrow 0", "borrow ffff888000000000", "read 1000 1000",
	};
	char huge[64], help[64];
	double t0;
	int fd;
	ssize_t n;

	if (geteuid())
		SKIP(return, "must be run as root");
	if (access(TRIGGER, W_OK))
		SKIP(return, "no " TRIGGER ": load vmashadow_crash.ko");
	t0 = now();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-EINVAL, trigger(bad[i])) {
			TH_LOG("'%s' accepted", bad[i]);
		}
	}
	/* A NUL inside, and a write longer than 32 bytes, are refused whole. */
	EXPECT_EQ(-EINVAL, trigger_n("hold 1\0junk", 11));
	memset(huge, ' ', sizeof(huge));
	memcpy(huge, "hold 1", 6);
	EXPECT_EQ(-EINVAL, trigger_n(huge, sizeof(huge)));
	/* Refused before any sleep: no hold of up to 10 s ran. */
	EXPECT_LT(now() - t0, 5.0);
	/* Reading it shows the commands. */
	fd = open(TRIGGER, O_RDONLY | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	n = read(fd, help, sizeof(help) - 1);
	close(fd);
	ASSERT_GT(n, 0);
	help[n] = '\0';
	EXPECT_STREQ("hold MS | read ADDR | borrow ADDR\n", help);
	/* And a good one still works. */
	EXPECT_EQ(0, trigger("hold 1"));
}

FIXTURE(crash) {
	long page;
};

VMS_FIXTURE_VARIANT_MODES(crash);

FIXTURE_SETUP(crash)
{
	self->page = sysconf(_SC_PAGESIZE);
	if (geteuid())
		SKIP(return, "must be run as root");
	if (access(TRIGGER, W_OK))
		SKIP(return, "no " TRIGGER ": load vmashadow_crash.ko");
	ASSERT_EQ(0, vms_write("mode", vms_modes[variant->mode]));
	ASSERT_EQ(0, vms_write("kernel_faults", "1"));
	ASSERT_EQ(0, vms_write("reset", "1"));
}

FIXTURE_TEARDOWN(crash)
{
}

/* A fresh, never-touched anonymous page. */
static char *fresh_page(long page)
{
	char *p = mmap(NULL, page, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

TEST_F_TIMEOUT(crash, no_fixup_fault_oopses_under_contention, 180)
{
	char *control = fresh_page(self->page);
	struct reader r = { 0 };
	struct vms_stats s;
	bool oopsed = false;
	pthread_t w, t;
	int oops0;

	ASSERT_NE(NULL, control);

	/* Control: with mmap_lock free, the same access just faults the page in. */
	snprintf(r.cmd, sizeof(r.cmd), "read %lx", (unsigned long)control);
	atomic_store(&r.go, true);
	ASSERT_EQ(0, pthread_create(&t, NULL, read_user, &r));
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_TRUE(atomic_load(&r.returned));
	ASSERT_EQ(0, r.ret);

	/*
	 * Now with a writer holding mmap_lock: the trylock must refuse. If the
	 * read ran before the writer got the lock (a loaded TCG host), it just
	 * succeeds: try again with a fresh page, a few times.
	 */
	oops0 = klog_count("BUG: unable to handle page fault");
	ASSERT_GE(oops0, 0);
	for (int attempt = 0; attempt < 3 && !oopsed; attempt++) {
		char *victim = fresh_page(self->page);
		struct writer wr = { 0 };
		bool held;

		ASSERT_NE(NULL, victim);
		r = (struct reader){ 0 };
		snprintf(r.cmd, sizeof(r.cmd), "read %lx", (unsigned long)victim);
		ASSERT_EQ(0, pthread_create(&t, NULL, read_user, &r));
		ASSERT_EQ(0, pthread_create(&w, NULL, hold_writer, &wr));
		held = writer_holds_lock(&wr);
		atomic_store(&r.go, true);
		/* Joins once the oops has killed it; a deadlock would hang here. */
		ASSERT_EQ(0, pthread_join(t, NULL));
		ASSERT_EQ(0, pthread_join(w, NULL));
		EXPECT_EQ(0, wr.ret);
		oopsed = !atomic_load(&r.returned);
		if (!oopsed)
			TH_LOG("attempt %d: the read returned %d (writer seen holding: %d)",
			       attempt, r.ret, held);
	}
	EXPECT_TRUE(oopsed);
	EXPECT_EQ(oops0 + 1, klog_count("BUG: unable to handle page fault"));
	/*
	 * The hook saw the kernel-mode faults: they got past the SMAP check
	 * (which oopses before any lock logic) and the trylock refused one.
	 */
	ASSERT_EQ(0, vms_stats(&s));
	/* In stock the core does not consult the hook: nothing to count. */
	if (variant->mode != VMS_STOCK) {
		EXPECT_GE(vms_count(&s, "kernel", variant->mode), 2);
	}
}

TEST_F_TIMEOUT(crash, uaccess_under_writer, 120)
{
	const size_t pages = 16;
	char path[] = "/tmp/vmashadow-crash-XXXXXX";
	int fd = mkstemp(path);
	struct writer wr = { 0 };
	char *src = malloc(pages * self->page), *dst;
	bool lockless = variant->mode >= 2;
	double t0, elapsed;
	pthread_t w;

	ASSERT_GE(fd, 0);
	ASSERT_NE(NULL, src);
	unlink(path);
	memset(src, 0x6b, pages * self->page);
	ASSERT_EQ((ssize_t)(pages * self->page), pwrite(fd, src, pages * self->page, 0));
	dst = mmap(NULL, pages * self->page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, dst);
	/*
	 * Fault it once and zap it: the pages are fresh again, but the VMA has
	 * its anon_vma, whose first-time setup needs mmap_lock in any mode.
	 */
	memset(dst, 0, pages * self->page);
	ASSERT_EQ(0, madvise(dst, pages * self->page, MADV_DONTNEED));

	/* Measure only once the writer is seen holding the lock. */
	now();	/* vDSO data faulted in now, not under the writer */
	for (int attempt = 0;; attempt++) {
		wr = (struct writer){ 0 };
		ASSERT_EQ(0, pthread_create(&w, NULL, hold_writer, &wr));
		if (writer_holds_lock(&wr))
			break;
		ASSERT_EQ(0, pthread_join(w, NULL));
		ASSERT_LT(attempt, 2) {
			TH_LOG("never saw the writer holding mmap_lock");
		}
	}
	t0 = now();
	ASSERT_EQ((ssize_t)(pages * self->page), pread(fd, dst, pages * self->page, 0));
	elapsed = now() - t0;
	ASSERT_EQ(0, pthread_join(w, NULL));
	EXPECT_EQ(0, wr.ret);
	EXPECT_EQ(0, memcmp(src, dst, pages * self->page));
	TH_LOG("%s: pread() into a fresh buffer under a %d ms writer took %.0f ms",
	       vms_modes[variant->mode], HOLD_MS, elapsed * 1000);
	if (lockless) {
		/* Served by the per-VMA lock: no wait for the writer. */
		EXPECT_LT(elapsed, HOLD_MS / 2 / 1000.0);
	} else {
		/* Waits (killably) for mmap_lock: most of the hold. */
		EXPECT_GT(elapsed, HOLD_MS / 2 / 1000.0);
	}
	munmap(dst, pages * self->page);
	free(src);
	close(fd);
}

TEST_F_TIMEOUT(crash, kthread_borrowed_mm_waits, 300)
{
	char *victim = fresh_page(self->page);
	struct reader r;
	struct writer wr;
	double held;
	pthread_t w, t;

	ASSERT_NE(NULL, victim);
	/* The VMA gets its anon_vma now; the page is fresh again after each zap. */
	victim[0] = 1;
	now();	/* vDSO data faulted in now, not under the writer */
	for (int attempt = 0;; attempt++) {
		ASSERT_EQ(0, madvise(victim, self->page, MADV_DONTNEED));
		r = (struct reader){ 0 };
		wr = (struct writer){ 0 };
		snprintf(r.cmd, sizeof(r.cmd), "borrow %lx", (unsigned long)victim);
		ASSERT_EQ(0, pthread_create(&t, NULL, read_user, &r));
		ASSERT_EQ(0, pthread_create(&w, NULL, hold_writer, &wr));
		ASSERT_TRUE(writer_holds_lock(&wr));
		held = now();
		atomic_store(&r.go, true);
		ASSERT_EQ(0, pthread_join(t, NULL));
		ASSERT_EQ(0, pthread_join(w, NULL));
		EXPECT_EQ(0, wr.ret);
		EXPECT_EQ(0, r.ret);
		/*
		 * Only a reader that started early in the hold can show that
		 * it waited; on a host that starves the guest's vCPUs it may
		 * start when the hold is nearly over: try again.
		 */
		if (r.t_start - held < HOLD_MS / 4 / 1000.0)
			break;
		TH_LOG("attempt %d: the reader started %.0f ms into the %d ms hold",
		       attempt, (r.t_start - held) * 1000, HOLD_MS);
		if (attempt == 2)
			SKIP(return, "the reader never started early in the writer's hold (a starved host)");
	}
	TH_LOG("%s: a kthread's copy_from_user() under a %d ms writer took %.0f ms",
	       vms_modes[variant->mode], HOLD_MS, r.elapsed * 1000);
	/*
	 * Waited for mmap_lock: most of the hold, in every mode. A kernel
	 * thread's fault never reaches the hook (kthread_use_mm() pins only
	 * mm_count): the core takes mmap_lock for it as it does without one,
	 * which module_test's kernel_thread_faults_skip_the_hook checks.
	 */
	EXPECT_GT(r.elapsed, HOLD_MS / 2 / 1000.0);
	munmap(victim, self->page);
}

TEST_HARNESS_MAIN
