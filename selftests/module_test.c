// SPDX-License-Identifier: GPL-2.0
/*
 * vmashadow module life cycle: load, unload, reload, and the debugfs
 * directory appearing and disappearing with the module (and no crash
 * trigger in it); and the hook's unload rule, with the test module
 * vmashadow_hooktest.ko.
 *
 * Every test leaves the module loaded or unloaded as it found it.
 */
#include <libgen.h>
#include <sys/wait.h>
#include <time.h>

#include "kselftest_harness.h"
#include "vmashadow.h"

#define HT_NAME		"vmashadow_hooktest"
#define HT_DEBUGFS	"/sys/kernel/debug/" HT_NAME

FIXTURE(module) {
	bool was_loaded;
};

FIXTURE_SETUP(module)
{
	if (geteuid())
		SKIP(return, "must be run as root");
	if (!vms_ko_path())
		SKIP(return, "vmashadow.ko not found ($VMASHADOW_KO unset or unreadable)");
	self->was_loaded = vms_loaded();
	if (self->was_loaded)
		ASSERT_EQ(0, vms_unload());
	ASSERT_FALSE(vms_loaded());
}

FIXTURE_TEARDOWN(module)
{
	if (!vms_ko_path() || geteuid())
		return;
	if (self->was_loaded && !vms_loaded())
		EXPECT_EQ(0, vms_load(NULL));
	if (!self->was_loaded && vms_loaded())
		EXPECT_EQ(0, vms_unload());
}

/* A test that failed half-way may leave vmashadow_hooktest.ko loaded. */
static void __attribute__((destructor)) hooktest_cleanup(void)
{
	if (!geteuid() && access("/sys/module/vmashadow_hooktest", F_OK) == 0)
		syscall(SYS_delete_module, "vmashadow_hooktest", O_NONBLOCK);
}

/*
 * Each load runs the module's KUnit suites (seconds under KASAN and TCG,
 * tens of seconds on a loaded host): well past the harness's default 30 s.
 */
TEST_F_TIMEOUT(module, load_unload, 300)
{
	ASSERT_EQ(0, vms_load(NULL));
	ASSERT_TRUE(vms_loaded());
	/* A second load of the same module is refused. */
	ASSERT_EQ(-EEXIST, vms_load(NULL));
	ASSERT_EQ(0, vms_unload());
	ASSERT_FALSE(vms_loaded());
	/* Nothing left to unload. */
	ASSERT_EQ(-ENOENT, vms_unload());
}

TEST_F_TIMEOUT(module, debugfs_dir_follows_module, 300)
{
	ASSERT_FALSE(vms_is_dir(VMS_DEBUGFS));
	ASSERT_EQ(0, vms_load(NULL));
	ASSERT_TRUE(vms_is_dir(VMS_DEBUGFS));
	ASSERT_EQ(0, vms_unload());
	ASSERT_FALSE(vms_is_dir(VMS_DEBUGFS));
}

/*
 * The crash test's trigger lives in the test module vmashadow_crash.ko,
 * never in vmashadow.ko: not even with the parameter that once created it,
 * which the kernel now ignores as unknown.
 */
TEST_F_TIMEOUT(module, no_crash_trigger, 300)
{
	if (vms_is_dir("/sys/module/vmashadow_crash"))
		SKIP(return, "vmashadow_crash is loaded");
	ASSERT_EQ(0, vms_load("crash_test=1"));
	ASSERT_TRUE(vms_is_dir(VMS_DEBUGFS));
	EXPECT_FALSE(vms_is_dir("/sys/kernel/debug/vmashadow_crash"));
	ASSERT_EQ(0, vms_unload());
}

/* Each load runs the KUnit suite, each unload waits for two grace periods. */
TEST_F_TIMEOUT(module, reload_cycles, 900)
{
	for (int i = 0; i < 8; i++) {
		ASSERT_EQ(0, vms_load(NULL)) TH_LOG("load %d", i);
		ASSERT_TRUE(vms_is_dir(VMS_DEBUGFS));
		ASSERT_EQ(0, vms_unload()) TH_LOG("unload %d", i);
	}
	ASSERT_FALSE(vms_loaded());
}

/* vmashadow_hooktest.ko, beside vmashadow.ko. */
static bool hooktest_path(char *path, size_t size)
{
	char dir[256];

	snprintf(dir, sizeof(dir), "%s", vms_ko_path());
	snprintf(path, size, "%s/" HT_NAME ".ko", dirname(dir));
	return access(path, R_OK) == 0;
}

/* insmod vmashadow_hooktest.ko; 0, or -1 with errno set. */
static int ht_insmod(const char *ko)
{
	int fd = open(ko, O_RDONLY | O_CLOEXEC), ret, err;

	if (fd < 0)
		return -1;
	ret = syscall(SYS_finit_module, fd, "", 0);
	err = errno;
	close(fd);
	errno = err;
	return ret ? -1 : 0;
}

static int ht_write(const char *file, const char *val)
{
	return vms_write_at(HT_DEBUGFS, file, val, strlen(val));
}

static bool ht_state_is(const char *want)
{
	char buf[32] = "";
	ssize_t n;
	int fd;

	fd = open(HT_DEBUGFS "/state", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[strcspn(buf, "\n")] = '\0';
	return !strcmp(buf, want);
}

/*
 * The hook's rule that makes unloading safe: a VMA freed while the hook is
 * being unregistered, before its ->drain has returned, is still reported to
 * ->forget, since a ->lookup that began before the hook was disabled may
 * still hand the core a pointer to it. vmashadow_hooktest.ko registers a
 * hook of its own that watches one VMA of this process, and its ->drain
 * (run by rmmod) waits for this test to unmap that VMA; writing "freed"
 * then fails with ESTALE if ->forget never saw it, as it did with the first
 * version of the hook, which disabled ->forget before anything else.
 */
TEST_F_TIMEOUT(module, unregistering_forgets_what_is_freed_meanwhile, 120)
{
	char ko[300], addr[32];
	struct timespec t = { 0, 10 * 1000 * 1000 };
	int status, i;
	pid_t pid;
	char *victim;

	if (!hooktest_path(ko, sizeof(ko)))
		SKIP(return, "%s not found beside vmashadow.ko", HT_NAME ".ko");
	ASSERT_EQ(0, ht_insmod(ko)) TH_LOG("insmod: %s", strerror(errno));

	victim = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, victim);
	victim[0] = 1;
	/* Bad input changes nothing. */
	EXPECT_EQ(-EINVAL, ht_write("victim", "0"));
	EXPECT_EQ(-EINVAL, ht_write("victim", "zz"));
	EXPECT_EQ(-EBUSY, ht_write("freed", "1"));
	EXPECT_TRUE(ht_state_is("idle"));
	snprintf(addr, sizeof(addr), "%lx", (unsigned long)victim);
	ASSERT_EQ(0, ht_write("victim", addr));
	ASSERT_TRUE(ht_state_is("armed"));

	/* rmmod, which runs ->drain, in a child: it waits for "freed". */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(syscall(SYS_delete_module, HT_NAME, 0) ? errno : 0);
	for (i = 0; i < 1000 && !ht_state_is("draining"); i++)
		nanosleep(&t, NULL);
	ASSERT_TRUE(ht_state_is("draining")) TH_LOG("->drain never began");

	ASSERT_EQ(0, munmap(victim, 4096));
	EXPECT_EQ(0, ht_write("freed", "1"))
		TH_LOG("the VMA freed during ->drain escaped ->forget");
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status)) TH_LOG("rmmod: %s", strerror(WEXITSTATUS(status)));
	ASSERT_FALSE(vms_is_dir("/sys/module/" HT_NAME));
}

static long ht_read_long(const char *file)
{
	char path[256], buf[32] = "";
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), HT_DEBUGFS "/%s", file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? strtol(buf, NULL, 10) : -1;
}

/*
 * A kernel thread that borrowed this process's mm (kthread_use_mm(), as
 * io_uring's workers and vhost do) pins only mm_count, while the hook's
 * ->lookup is promised an mm with users (the Rust abstraction hands it an
 * &MmWithUser). Its faults must never reach the hook. vmashadow_hooktest.ko
 * counts kernel-thread faults its ->lookup sees; a kernel thread writes into
 * a page of ours that is not populated yet, so that it faults.
 */
TEST_F_TIMEOUT(module, kernel_thread_faults_skip_the_hook, 60)
{
	char ko[300], addr[32];
	volatile char *page;

	if (!hooktest_path(ko, sizeof(ko)))
		SKIP(return, "%s not found beside vmashadow.ko", HT_NAME ".ko");
	ASSERT_EQ(0, ht_insmod(ko)) TH_LOG("insmod: %s", strerror(errno));

	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, page);
	EXPECT_EQ(-EINVAL, ht_write("kthread", "0"));
	EXPECT_EQ(-EINVAL, ht_write("kthread", "zz"));
	ASSERT_EQ(0, ht_read_long("kthread_lookups"));
	snprintf(addr, sizeof(addr), "%lx", (unsigned long)page);
	ASSERT_EQ(0, ht_write("kthread", addr));
	/* The kernel thread's write landed: it faulted the page in. */
	EXPECT_EQ(0x5a, page[0]);
	EXPECT_EQ(0, ht_read_long("kthread_lookups"))
		TH_LOG("a kernel thread's fault reached the hook's ->lookup");
	munmap((void *)page, 4096);
	ASSERT_EQ(0, syscall(SYS_delete_module, HT_NAME, 0)) TH_LOG("rmmod: %s", strerror(errno));
}

TEST_HARNESS_MAIN
