// SPDX-License-Identifier: GPL-2.0
/*
 * vmashadow module life cycle: load, unload, reload, and the debugfs
 * directory appearing and disappearing with the module (and no crash
 * trigger in it).
 *
 * Every test leaves the module loaded or unloaded as it found it.
 */
#include "kselftest_harness.h"
#include "vmashadow.h"

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

TEST_HARNESS_MAIN
