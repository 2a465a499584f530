/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the vmashadow selftests: find, load and unload the
 * module, read and write its debugfs files.
 *
 * The module is found through $VMASHADOW_KO (set by scripts/guest-run.sh);
 * tests SKIP when it is absent or when not run as root.
 */
#ifndef VMASHADOW_SELFTEST_H
#define VMASHADOW_SELFTEST_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define VMS_NAME	"vmashadow"
#define VMS_DEBUGFS	"/sys/kernel/debug/vmashadow"
#define VMS_SYSFS	"/sys/module/vmashadow"

static inline const char *vms_ko_path(void)
{
	const char *ko = getenv("VMASHADOW_KO");

	if (!ko || access(ko, R_OK))
		return NULL;
	return ko;
}

static inline bool vms_loaded(void)
{
	return access(VMS_SYSFS, F_OK) == 0;
}

/* Returns 0 or -errno. */
static inline int vms_load(const char *params)
{
	const char *ko = vms_ko_path();
	int fd, ret;

	if (!ko)
		return -ENOENT;
	fd = open(ko, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, params ? params : "", 0);
	ret = ret ? -errno : 0;
	close(fd);
	return ret;
}

/* Returns 0 or -errno. */
static inline int vms_unload(void)
{
	return syscall(SYS_delete_module, VMS_NAME, O_NONBLOCK) ? -errno : 0;
}

static inline bool vms_is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

#endif /* VMASHADOW_SELFTEST_H */
