// SPDX-License-Identifier: GPL-2.0
/*
 * What a fault must do, whichever way it was served: each test body runs
 * once per mode (stock, mmap, pervma, shadow). Permissions and signals
 * (exec, execute-only, guard regions), data that survives munmap/mmap,
 * mremap, mprotect, fork, shared file and shmem mappings and THP, stack
 * growth, userfaultfd, and kernel-mode faults that must fail with EFAULT or
 * succeed with the right data while the address space churns.
 */
#define _GNU_SOURCE
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "vmashadow.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL	102
#define MADV_GUARD_REMOVE	103
#endif
#ifndef SEGV_PKUERR
#define SEGV_PKUERR		4
#endif

static long page_size;

FIXTURE(integrity) {
	bool loaded_here;
};

VMS_FIXTURE_VARIANT_MODES(integrity);

FIXTURE_SETUP(integrity)
{
	page_size = sysconf(_SC_PAGESIZE);
	vms_probe_install();
	VMS_SETUP_MODE(variant->mode, self->loaded_here);
}

FIXTURE_TEARDOWN(integrity)
{
	vms_teardown_mode(self->loaded_here);
}

/* The value page @i of a pattern @seed holds in its first word. */
static long tag(long seed, size_t i)
{
	return seed * 0x9e3779b97f4a7c15L + (long)i + 1;
}

static void fill(char *p, size_t pages, long seed)
{
	for (size_t i = 0; i < pages; i++)
		*(long *)(p + i * page_size) = tag(seed, i);
}

/* Index of the first page not holding its tag (or zero if @seed is 0), or -1. */
static long check(const char *p, size_t pages, long seed)
{
	for (size_t i = 0; i < pages; i++)
		if (*(const long *)(p + i * page_size) != (seed ? tag(seed, i) : 0))
			return i;
	return -1;
}

static int access_code(void *p, enum vms_op op, int *code)
{
	long v = 0x5a;

	return vms_access(p, op, &v, code);
}

TEST_F(integrity, exec_and_noexec)
{
	static const unsigned char ret = 0xc3;	/* x86 ret */
	char *p = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int code = 0;

	ASSERT_NE(MAP_FAILED, p);
	memset(p, ret, page_size);
	/* Data is not code: NX. */
	EXPECT_EQ(SIGSEGV, access_code(p, VMS_EXEC, &code));
	EXPECT_EQ(SEGV_ACCERR, code);
	ASSERT_EQ(0, mprotect(p, page_size, PROT_READ | PROT_EXEC));
	EXPECT_EQ(0, access_code(p, VMS_EXEC, &code));
	EXPECT_EQ(SIGSEGV, access_code(p, VMS_WRITE, &code));
	EXPECT_EQ(SEGV_ACCERR, code);
	/* Zapped and flipped back: the next fault sees the new flags. */
	ASSERT_EQ(0, mprotect(p, page_size, PROT_READ | PROT_WRITE));
	ASSERT_EQ(0, madvise(p, page_size, MADV_DONTNEED));
	EXPECT_EQ(SIGSEGV, access_code(p, VMS_EXEC, &code));
	EXPECT_EQ(SEGV_ACCERR, code);
	munmap(p, page_size);
}

static bool cpu_has_flag(const char *flag)
{
	char line[4096], pat[32];
	bool found = false;
	FILE *f = fopen("/proc/cpuinfo", "r");

	if (!f)
		return false;
	snprintf(pat, sizeof(pat), " %s ", flag);
	while (!found && fgets(line, sizeof(line) - 1, f))
		if (!strncmp(line, "flags", 5)) {
			strcat(line, " ");
			line[strcspn(line, "\n")] = ' ';
			found = strstr(line, pat);
		}
	fclose(f);
	return found;
}

TEST_F(integrity, execute_only)
{
	char *p;
	int code = 0;

	if (!cpu_has_flag("ospke"))
		SKIP(return, "no protection keys enabled (ospke): x86 cannot map execute-only");
	p = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	memset(p, 0xc3, page_size);
	ASSERT_EQ(0, mprotect(p, page_size, PROT_EXEC));
	EXPECT_EQ(0, access_code(p, VMS_EXEC, &code));
	EXPECT_EQ(SIGSEGV, access_code(p, VMS_READ, &code));
	EXPECT_EQ(SEGV_PKUERR, code);
	munmap(p, page_size);
}

TEST_F(integrity, guard_regions)
{
	const size_t pages = 8;
	char *p = vms_map_anon(pages * page_size);
	int code = 0;

	ASSERT_NE(NULL, p);
	fill(p, pages, 1);
	if (madvise(p + 3 * page_size, 2 * page_size, MADV_GUARD_INSTALL)) {
		munmap(p, pages * page_size);
		SKIP(return, "MADV_GUARD_INSTALL: %s", strerror(errno));
	}
	for (size_t i = 0; i < pages; i++) {
		bool guard = i == 3 || i == 4;

		EXPECT_EQ(guard ? SIGSEGV : 0,
			  access_code(p + i * page_size, VMS_READ, &code)) {
			TH_LOG("page %zu", i);
		}
		EXPECT_EQ(guard ? SIGSEGV : 0,
			  access_code(p + i * page_size, VMS_WRITE, &code));
		if (!guard) {
			EXPECT_EQ(0x5a, *(long *)(p + i * page_size));
		}
	}
	/* Removed: the pages fault in again, zero-filled. */
	ASSERT_EQ(0, madvise(p + 3 * page_size, 2 * page_size, MADV_GUARD_REMOVE));
	EXPECT_EQ(-1, check(p + 3 * page_size, 2, 0));
	munmap(p, pages * page_size);
}

TEST_F(integrity, munmap_mmap_cycles)
{
	const size_t pages = 32;

	for (int round = 1; round <= 20; round++) {
		char *p = vms_map_anon(pages * page_size);

		ASSERT_NE(NULL, p);
		/* Fresh memory reads zero even where the last round wrote. */
		ASSERT_EQ(-1, check(p, pages, 0)) {
			TH_LOG("round %d: stale data", round);
		}
		fill(p, pages, round);
		ASSERT_EQ(-1, check(p, pages, round));
		ASSERT_EQ(0, munmap(p, pages * page_size));
	}
}

TEST_F(integrity, mremap_move_and_grow)
{
	const size_t pages = 32;
	char *p = vms_map_anon(pages * page_size), *q, *r, *dst;
	int code = 0;

	ASSERT_NE(NULL, p);
	fill(p, pages, 7);
	/* Move to a fixed address: the data goes along, the old range is gone. */
	dst = vms_map_anon(pages * page_size);
	ASSERT_NE(NULL, dst);
	q = mremap(p, pages * page_size, pages * page_size,
		   MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	ASSERT_EQ(dst, q);
	EXPECT_EQ(-1, check(q, pages, 7));
	EXPECT_EQ(SIGSEGV, access_code(p, VMS_READ, &code));
	EXPECT_EQ(SEGV_MAPERR, code);
	/* Grow, moving if it must: old pages kept, new ones zero and writable. */
	r = mremap(q, pages * page_size, 4 * pages * page_size, MREMAP_MAYMOVE);
	ASSERT_NE(MAP_FAILED, r);
	EXPECT_EQ(-1, check(r, pages, 7));
	EXPECT_EQ(-1, check(r + pages * page_size, 3 * pages, 0));
	fill(r + pages * page_size, 3 * pages, 8);
	EXPECT_EQ(-1, check(r + pages * page_size, 3 * pages, 8));
	/* Shrink: the tail is unmapped. */
	ASSERT_EQ(r, mremap(r, 4 * pages * page_size, pages * page_size, 0));
	EXPECT_EQ(SIGSEGV, access_code(r + pages * page_size, VMS_READ, &code));
	EXPECT_EQ(SEGV_MAPERR, code);
	EXPECT_EQ(-1, check(r, pages, 7));
	munmap(r, pages * page_size);
}

TEST_F(integrity, mprotect_flips)
{
	const size_t pages = 16;
	char *p = vms_map_anon(pages * page_size);
	int code = 0;

	ASSERT_NE(NULL, p);
	fill(p, pages, 3);
	for (int round = 0; round < 10; round++) {
		ASSERT_EQ(0, mprotect(p, pages * page_size, PROT_READ));
		EXPECT_EQ(-1, check(p, pages, 3));
		EXPECT_EQ(SIGSEGV, access_code(p + (round % pages) * page_size,
					       VMS_WRITE, &code));
		EXPECT_EQ(SEGV_ACCERR, code);
		ASSERT_EQ(0, mprotect(p, pages * page_size, PROT_NONE));
		EXPECT_EQ(SIGSEGV, access_code(p, VMS_READ, &code));
		EXPECT_EQ(SEGV_ACCERR, code);
		/* The middle page alone: split the VMA, then merge it back. */
		ASSERT_EQ(0, mprotect(p, pages * page_size, PROT_READ | PROT_WRITE));
		ASSERT_EQ(0, mprotect(p + pages / 2 * page_size, page_size, PROT_READ));
		EXPECT_EQ(SIGSEGV, access_code(p + pages / 2 * page_size, VMS_WRITE, &code));
		EXPECT_EQ(0, access_code(p + (pages / 2 + 1) * page_size, VMS_WRITE, &code));
		ASSERT_EQ(0, mprotect(p + pages / 2 * page_size, page_size,
				      PROT_READ | PROT_WRITE));
		fill(p, pages, 3);
		EXPECT_EQ(-1, check(p, pages, 3));
	}
	munmap(p, pages * page_size);
}

/* Waits for child @pid; true if it exited 0. */
static bool child_ok(pid_t pid)
{
	int st;

	return waitpid(pid, &st, 0) == pid && WIFEXITED(st) && !WEXITSTATUS(st);
}

TEST_F(integrity, fork_cow_both_ways)
{
	const size_t pages = 32;
	char *p = vms_map_anon(pages * page_size);
	int to_child[2], to_parent[2];
	char c;
	pid_t pid;

	ASSERT_NE(NULL, p);
	fill(p, pages, 11);
	ASSERT_EQ(0, pipe(to_child));
	ASSERT_EQ(0, pipe(to_parent));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		/* Sees the parent's data, writes its own copy, keeps it. */
		if (check(p, pages, 11) != -1)
			_exit(1);
		fill(p, pages / 2, 12);
		if (write(to_parent[1], "w", 1) != 1 || read(to_child[0], &c, 1) != 1)
			_exit(2);
		/* The parent wrote after we did: our copy is untouched. */
		if (check(p, pages / 2, 12) != -1 ||
		    check(p + pages / 2 * page_size, pages / 2, 0) == -1)
			_exit(3);
		for (size_t i = pages / 2; i < pages; i++)
			if (*(long *)(p + i * page_size) != tag(11, i))
				_exit(4);
		_exit(0);
	}
	ASSERT_EQ(1, read(to_parent[0], &c, 1));
	/* The child's writes stayed in the child. */
	EXPECT_EQ(-1, check(p, pages, 11));
	fill(p, pages, 13);
	ASSERT_EQ(1, write(to_child[1], "p", 1));
	EXPECT_TRUE(child_ok(pid));
	EXPECT_EQ(-1, check(p, pages, 13));
	munmap(p, pages * page_size);
}

TEST_F(integrity, shmem_and_shared_anon)
{
	const size_t pages = 32;
	int fd = memfd_create("vmashadow", MFD_CLOEXEC);
	char *a, *b, *s;
	pid_t pid;

	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, ftruncate(fd, pages * page_size));
	/* Two mappings of one shmem file: a write through one is read via the other. */
	a = mmap(NULL, pages * page_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	b = mmap(NULL, pages * page_size, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, a);
	ASSERT_NE(MAP_FAILED, b);
	fill(a, pages, 21);
	EXPECT_EQ(-1, check(b, pages, 21));
	/* Zapped from both, read back from the page cache. */
	ASSERT_EQ(0, madvise(a, pages * page_size, MADV_DONTNEED));
	ASSERT_EQ(0, madvise(b, pages * page_size, MADV_DONTNEED));
	EXPECT_EQ(-1, check(b, pages, 21));
	EXPECT_EQ(-1, check(a, pages, 21));

	/* Shared anonymous memory: the child's writes reach the parent. */
	s = mmap(NULL, pages * page_size, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, s);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		fill(s, pages, 22);
		_exit(check(a, pages, 21) == -1 ? 0 : 1);
	}
	EXPECT_TRUE(child_ok(pid));
	EXPECT_EQ(-1, check(s, pages, 22));
	munmap(a, pages * page_size);
	munmap(b, pages * page_size);
	munmap(s, pages * page_size);
	close(fd);
}

/* kB of AnonHugePages in the VMA of /proc/self/smaps that contains @addr. */
static long anon_huge_kb(void *addr)
{
	unsigned long start, end, a = (unsigned long)addr;
	char line[512];
	bool in = false;
	long kb = -1;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2)
			in = a >= start && a < end;
		else if (in && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

TEST_F(integrity, thp_on_and_off)
{
	const char *knob = "/sys/kernel/mm/transparent_hugepage/enabled";
	const size_t huge = 2 << 20, pages = 2 * huge / page_size;
	char mode[128] = "", *raw, *p;
	bool restore = false;
	pid_t pid;
	int fd;

	fd = open(knob, O_RDWR);
	if (fd < 0)
		SKIP(return, "no %s: THP not configured", knob);
	ASSERT_GT(read(fd, mode, sizeof(mode) - 1), 0);
	if (strstr(mode, "[never]")) {
		ASSERT_EQ(7, pwrite(fd, "madvise", 7, 0));
		restore = true;
	}
	/* Two 2 MiB-aligned huge-page-sized halves: one THP, one not. */
	raw = mmap(NULL, pages * page_size + huge, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, raw);
	p = (char *)(((unsigned long)raw + huge - 1) & ~(huge - 1));
	ASSERT_EQ(0, madvise(p, huge, MADV_HUGEPAGE));
	ASSERT_EQ(0, madvise(p + huge, huge, MADV_NOHUGEPAGE));
	fill(p, pages, 31);
	EXPECT_EQ(-1, check(p, pages, 31));
	TH_LOG("AnonHugePages: %ld kB in the THP half, %ld kB in the other",
	       anon_huge_kb(p), anon_huge_kb(p + huge));
	EXPECT_GE(anon_huge_kb(p), 2048) {
		TH_LOG("no huge page: THP not exercised (fragmented memory?)");
	}
	EXPECT_EQ(0, anon_huge_kb(p + huge));
	/* Split by a partial zap and faulted again as small pages. */
	ASSERT_EQ(0, madvise(p + page_size, page_size, MADV_DONTNEED));
	EXPECT_EQ(0, *(long *)(p + page_size));
	fill(p, pages, 32);
	EXPECT_EQ(-1, check(p, pages, 32));
	/* Fork: the child sees both halves. */
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid)
		_exit(check(p, pages, 32) == -1 ? 0 : 1);
	EXPECT_TRUE(child_ok(pid));
	munmap(raw, pages * page_size + huge);
	if (restore)
		pwrite(fd, mode, strcspn(mode, "\n"), 0);
	close(fd);
}

/*
 * Recurses @depth frames of a page each, every frame writing its depth into
 * its page and checking it after the callee returns. Returns the number of
 * frames that saw their data change.
 */
static int __attribute__((noinline)) recurse(int depth)
{
	volatile char frame[4096];
	int bad;

	memset((char *)frame, depth & 0xff, sizeof(frame));
	bad = depth > 1 ? recurse(depth - 1) : 0;
	for (size_t i = 0; i < sizeof(frame); i += 512)
		if (frame[i] != (char)(depth & 0xff))
			return bad + 1;
	return bad;
}

/* Size of the VMA of /proc/self/maps containing @addr, or 0. */
static unsigned long vma_size(void *addr)
{
	unsigned long start, end, a = (unsigned long)addr;
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2 &&
		    a >= start && a < end) {
			fclose(f);
			return end - start;
		}
	fclose(f);
	return 0;
}

static void *thread_recurse(void *arg)
{
	return (void *)(long)recurse((long)arg);
}

TEST_F(integrity, stack_growth)
{
	unsigned long before, after;
	pthread_attr_t attr;
	pthread_t t;
	void *bad;
	int here;

	/* The main thread grows its stack VMA by 2 MiB, fault by fault. */
	before = vma_size(&here);
	EXPECT_EQ(0, recurse(512));
	after = vma_size(&here);
	TH_LOG("main stack VMA: %lu kB before, %lu kB after", before >> 10, after >> 10);
	EXPECT_GE(after, before + (1UL << 20));

	/* A thread faults its (fixed-size) stack in as deep. */
	ASSERT_EQ(0, pthread_attr_init(&attr));
	ASSERT_EQ(0, pthread_attr_setstacksize(&attr, 4 << 20));
	ASSERT_EQ(0, pthread_create(&t, &attr, thread_recurse, (void *)512L));
	ASSERT_EQ(0, pthread_join(t, &bad));
	EXPECT_EQ(0, (long)bad);
	pthread_attr_destroy(&attr);
}

struct growsdown {
	char *top;	/* lowest address of the VMA so far */
	int pages;	/* how many pages below it to touch */
	atomic_bool go;
	long bad;
};

static void touch_below(struct growsdown *g)
{
	int code = 0;

	for (int i = 1; i <= g->pages; i++) {
		long v = tag(41, i);

		if (vms_access(g->top - (long)i * page_size, VMS_WRITE, &v, &code))
			g->bad++;
	}
}

static void *touch_below_thread(void *arg)
{
	struct growsdown *g = arg;

	while (!atomic_load(&g->go))
		usleep(1000);
	touch_below(g);
	return NULL;
}

TEST_F(integrity, map_growsdown)
{
	const size_t span = 16 << 20;
	struct growsdown g = { .pages = 64 };
	char *area;
	pthread_t t;

	/*
	 * The thread first: its stack must not land in the room below the
	 * region, which stack_guard_gap would then refuse to grow into.
	 */
	ASSERT_EQ(0, pthread_create(&t, NULL, touch_below_thread, &g));
	/* Room below the region: the upper half of a PROT_NONE reservation. */
	area = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, area);
	ASSERT_EQ(0, munmap(area + span / 2, span / 2));
	g.top = mmap(area + span - page_size, page_size, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN |
		     MAP_FIXED_NOREPLACE, -1, 0);
	ASSERT_EQ(area + span - page_size, g.top);

	/* Grown from another thread, page by page below the start. */
	atomic_store(&g.go, true);
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_EQ(0, g.bad);
	EXPECT_EQ((g.pages + 1) * page_size, vma_size(g.top));
	for (int i = 1; i <= g.pages; i++)
		ASSERT_EQ(tag(41, i), *(long *)(g.top - (long)i * page_size));

	/* And from this one, 32 pages below the new start. */
	g.top -= g.pages * page_size;
	g.pages = 32;
	touch_below(&g);
	EXPECT_EQ(0, g.bad);
	EXPECT_EQ((64 + 32 + 1) * page_size, vma_size(g.top));
	munmap(area, span);
}

struct uffd_handler {
	int uffd;
	char *page;		/* source page for UFFDIO_COPY */
	atomic_bool stop;
	int events, errors;
};

static void *uffd_serve(void *arg)
{
	struct uffd_handler *h = arg;
	struct pollfd pfd = { .fd = h->uffd, .events = POLLIN };
	struct uffd_msg msg;

	while (!atomic_load(&h->stop)) {
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		if (read(h->uffd, &msg, sizeof(msg)) != sizeof(msg))
			continue;
		if (msg.event != UFFD_EVENT_PAGEFAULT) {
			h->errors++;
			continue;
		}
		unsigned long addr = msg.arg.pagefault.address & ~(page_size - 1);
		struct uffdio_copy copy = {
			.dst = addr, .src = (unsigned long)h->page, .len = page_size,
		};

		*(long *)h->page = (long)addr;
		if (ioctl(h->uffd, UFFDIO_COPY, &copy) && errno != EEXIST)
			h->errors++;
		h->events++;
	}
	return NULL;
}

TEST_F(integrity, userfaultfd_missing)
{
	const size_t pages = 32, half = pages / 2;
	struct uffd_handler h = { 0 };
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	char path[] = "/tmp/vmashadow-uffd-XXXXXX";
	char *p, *src;
	pthread_t t;
	int fd;

	h.uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (h.uffd < 0)
		SKIP(return, "userfaultfd: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(h.uffd, UFFDIO_API, &api));
	p = vms_map_anon(pages * page_size);
	h.page = vms_map_anon(page_size);
	src = vms_map_anon(half * page_size);
	ASSERT_NE(NULL, p);
	ASSERT_NE(NULL, h.page);
	ASSERT_NE(NULL, src);
	reg.range.start = (unsigned long)p;
	reg.range.len = pages * page_size;
	ASSERT_EQ(0, ioctl(h.uffd, UFFDIO_REGISTER, &reg));
	ASSERT_EQ(0, pthread_create(&t, NULL, uffd_serve, &h));

	/* User-mode faults: each page arrives as the handler filled it. */
	for (size_t i = 0; i < half; i++)
		EXPECT_EQ((long)(p + i * page_size), *(volatile long *)(p + i * page_size));

	/* Kernel-mode faults: pread() lands in the handler's pages, then overwrites them. */
	fd = mkstemp(path);
	ASSERT_GE(fd, 0);
	unlink(path);
	fill(src, half, 51);
	ASSERT_EQ((ssize_t)(half * page_size), pwrite(fd, src, half * page_size, 0));
	ASSERT_EQ((ssize_t)(half * page_size),
		  pread(fd, p + half * page_size, half * page_size, 0));
	EXPECT_EQ(-1, check(p + half * page_size, half, 51));

	atomic_store(&h.stop, true);
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(0, h.errors);
	/* Every page went through the handler exactly once. */
	EXPECT_EQ((int)pages, h.events);
	close(fd);
	close(h.uffd);
	munmap(p, pages * page_size);
}

TEST_F(integrity, kernel_faults_efault)
{
	char path[] = "/tmp/vmashadow-efault-XXXXXX";
	int fd = mkstemp(path);
	char *gone = vms_map_anon(page_size);
	char *ro = mmap(NULL, page_size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *none = mmap(NULL, page_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_GE(fd, 0);
	unlink(path);
	ASSERT_NE(NULL, gone);
	ASSERT_NE(MAP_FAILED, ro);
	ASSERT_NE(MAP_FAILED, none);
	ASSERT_EQ(0, munmap(gone, page_size));
	ASSERT_EQ(0, ftruncate(fd, page_size));
	for (int knob = 1; knob >= 0; knob--) {
		ASSERT_EQ(0, vms_write("kernel_faults", knob ? "1" : "0"));
		/* copy_from_user() from an unmapped buffer. */
		errno = 0;
		EXPECT_EQ(-1, pwrite(fd, gone, page_size, 0));
		EXPECT_EQ(EFAULT, errno);
		/* copy_to_user() into a read-only and an inaccessible one. */
		errno = 0;
		EXPECT_EQ(-1, pread(fd, ro, page_size, 0));
		EXPECT_EQ(EFAULT, errno);
		errno = 0;
		EXPECT_EQ(-1, pread(fd, none, page_size, 0));
		EXPECT_EQ(EFAULT, errno);
		/* And from a PROT_NONE one. */
		errno = 0;
		EXPECT_EQ(-1, pwrite(fd, none, page_size, 0));
		EXPECT_EQ(EFAULT, errno);
	}
	close(fd);
	munmap(ro, page_size);
	munmap(none, page_size);
}

struct kreader {
	int fd;
	size_t pages;
	atomic_bool *stop;
	long rounds, bad;
};

/* pread() into a freshly zapped buffer, over and over: kernel-mode faults. */
static void *kernel_reader(void *arg)
{
	struct kreader *k = arg;
	char *buf = vms_map_anon(k->pages * page_size);

	if (!buf) {
		k->bad++;
		return NULL;
	}
	while (!atomic_load(k->stop)) {
		if (madvise(buf, k->pages * page_size, MADV_DONTNEED) ||
		    pread(k->fd, buf, k->pages * page_size, 0) !=
		    (ssize_t)(k->pages * page_size) ||
		    check(buf, k->pages, 61) != -1)
			k->bad++;
		k->rounds++;
	}
	munmap(buf, k->pages * page_size);
	return NULL;
}

/* Maps, touches and unmaps elsewhere: mmap_lock taken for writing, often. */
static void *churn(void *arg)
{
	atomic_bool *stop = arg;

	while (!atomic_load(stop)) {
		char *p = mmap(NULL, 4 * page_size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			continue;
		p[0] = 1;
		munmap(p, 4 * page_size);
	}
	return NULL;
}

TEST_F_TIMEOUT(integrity, kernel_reads_under_churn, 60)
{
	const size_t pages = 8;
	char path[] = "/tmp/vmashadow-kread-XXXXXX";
	int fd = mkstemp(path);
	char *src = vms_map_anon(pages * page_size);
	struct kreader k[2];
	atomic_bool stop;
	pthread_t t[3];
	struct rusage ru0, ru1;

	ASSERT_GE(fd, 0);
	ASSERT_NE(NULL, src);
	unlink(path);
	fill(src, pages, 61);
	ASSERT_EQ((ssize_t)(pages * page_size), pwrite(fd, src, pages * page_size, 0));
	for (int knob = 1; knob >= 0; knob--) {
		long rounds = 0;

		ASSERT_EQ(0, vms_write("kernel_faults", knob ? "1" : "0"));
		atomic_store(&stop, false);
		ASSERT_EQ(0, getrusage(RUSAGE_SELF, &ru0));
		for (int i = 0; i < 2; i++) {
			k[i] = (struct kreader){ .fd = fd, .pages = pages, .stop = &stop };
			ASSERT_EQ(0, pthread_create(&t[i], NULL, kernel_reader, &k[i]));
		}
		ASSERT_EQ(0, pthread_create(&t[2], NULL, churn, &stop));
		usleep(700 * 1000);
		atomic_store(&stop, true);
		for (int i = 0; i < 3; i++)
			ASSERT_EQ(0, pthread_join(t[i], NULL));
		ASSERT_EQ(0, getrusage(RUSAGE_SELF, &ru1));
		for (int i = 0; i < 2; i++) {
			EXPECT_EQ(0, k[i].bad);
			rounds += k[i].rounds;
		}
		TH_LOG("knob %d: %ld reads of %zu fresh pages, %ld minor faults",
		       knob, rounds, pages, ru1.ru_minflt - ru0.ru_minflt);
		/* The reads really faulted, in the kernel. */
		EXPECT_GE(rounds, 2);
		EXPECT_GE(ru1.ru_minflt - ru0.ru_minflt, rounds * (long)pages);
	}
	close(fd);
	munmap(src, pages * page_size);
}

TEST_HARNESS_MAIN
