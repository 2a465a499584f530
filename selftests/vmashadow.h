/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the vmashadow selftests: find, load and unload the
 * module, drive its debugfs knobs, read its statistics and /proc/vmstat.
 *
 * The module is found through $VMASHADOW_KO (set by
 * scripts/guest/guest-run.sh); tests SKIP when it is absent or when not run
 * as root.
 */
#ifndef VMASHADOW_SELFTEST_H
#define VMASHADOW_SELFTEST_H

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define VMS_NAME	"vmashadow"
#define VMS_DEBUGFS	"/sys/kernel/debug/vmashadow"
#define VMS_SYSFS	"/sys/module/vmashadow"

/* The modes of scripts/modes, in order (make lint checks the three lists). */
enum vms_mode { VMS_STOCK, VMS_MMAP, VMS_PERVMA, VMS_SHADOW, VMS_SPEC, VMS_NR_MODES };
static const char *const vms_modes[] = { "stock", "mmap", "pervma", "shadow",
					  "spec" };
/*
 * A fixture's variants, one per mode and named after it, in that order:
 * variant->mode is the mode. For the tests that run in every mode; use it
 * after kselftest_harness.h, as VMS_FIXTURE_VARIANT_MODES(fixture);
 */
#define VMS_FIXTURE_VARIANT_MODES(f)					\
	FIXTURE_VARIANT(f) {						\
		int mode;						\
	};								\
	FIXTURE_VARIANT_ADD(f, stock) { .mode = VMS_STOCK };		\
	FIXTURE_VARIANT_ADD(f, mmap) { .mode = VMS_MMAP };		\
	FIXTURE_VARIANT_ADD(f, pervma) { .mode = VMS_PERVMA };		\
	FIXTURE_VARIANT_ADD(f, shadow) { .mode = VMS_SHADOW };		\
	FIXTURE_VARIANT_ADD(f, spec) { .mode = VMS_SPEC }
/* The module's defaults (rust/knobs.rs). */
#define VMS_ADMIT_MS_DEFAULT	"10"
#define VMS_MIN_AGE_MS_DEFAULT	"10"
#define VMS_INDEX_CAP_DEFAULT	65536

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

/* Writes @len bytes of @buf to file @dir/@name in one write(). 0 or -errno. */
static inline int vms_write_at(const char *dir, const char *name,
			       const void *buf, size_t len)
{
	char path[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, buf, len);
	n = n < 0 ? -errno : (n == (ssize_t)len ? 0 : -EIO);
	close(fd);
	return n;
}

/* Writes @len bytes of @buf to debugfs file @name in one write(). 0 or -errno. */
static inline int vms_write_n(const char *name, const void *buf, size_t len)
{
	return vms_write_at(VMS_DEBUGFS, name, buf, len);
}

static inline int vms_write(const char *name, const char *val)
{
	return vms_write_n(name, val, strlen(val));
}

/* Reads debugfs file @name into @buf (NUL-terminated, trailing newline cut). */
static inline int vms_read(const char *name, char *buf, size_t size)
{
	char path[256];
	ssize_t n, off = 0;
	int fd;

	snprintf(path, sizeof(path), VMS_DEBUGFS "/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (off < (ssize_t)size - 1 &&
	       (n = read(fd, buf + off, size - 1 - off)) > 0)
		off += n;
	close(fd);
	buf[off] = '\0';
	while (off > 0 && buf[off - 1] == '\n')
		buf[--off] = '\0';
	return 0;
}

/* The statistics file, parsed. */
#define VMS_MAX_EVENTS 32
struct vms_stats {
	char mode[16];
	long kernel_faults, index_cap, admit_ms, min_age_ms, indexes, entries, hits, misses;
	/* The core's speculative fault outcomes (/proc/vmstat fault_spec_*). */
	long spec_done, spec_vma, spec_table, spec_pte, spec_nomem, spec_race,
	     spec_locked, spec_file;
	long spec_finished;	/* of spec_race, finished under the VMA lock */
	int nr_events;
	char event[VMS_MAX_EVENTS][24];
	uint64_t count[VMS_MAX_EVENTS][VMS_NR_MODES];
};

static inline int vms_stats(struct vms_stats *s)
{
	static char buf[8192];
	char *line, *save;
	int ret;

	memset(s, 0, sizeof(*s));
	ret = vms_read("stats", buf, sizeof(buf));
	if (ret)
		return ret;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char name[24];
		unsigned long long c[VMS_NR_MODES];

		if (sscanf(line, "mode %15s", s->mode) == 1 ||
		    sscanf(line, "kernel_faults %ld", &s->kernel_faults) == 1 ||
		    sscanf(line, "index_cap %ld", &s->index_cap) == 1 ||
		    sscanf(line, "admit_ms %ld", &s->admit_ms) == 1 ||
		    sscanf(line, "min_age_ms %ld", &s->min_age_ms) == 1 ||
		    sscanf(line, "indexes %ld", &s->indexes) == 1 ||
		    sscanf(line, "entries %ld", &s->entries) == 1 ||
		    sscanf(line, "hits %ld", &s->hits) == 1 ||
		    sscanf(line, "misses %ld", &s->misses) == 1 ||
		    sscanf(line, "spec_done %ld", &s->spec_done) == 1 ||
		    sscanf(line, "spec_fallback_vma %ld", &s->spec_vma) == 1 ||
		    sscanf(line, "spec_fallback_table %ld", &s->spec_table) == 1 ||
		    sscanf(line, "spec_fallback_pte %ld", &s->spec_pte) == 1 ||
		    sscanf(line, "spec_fallback_nomem %ld", &s->spec_nomem) == 1 ||
		    sscanf(line, "spec_fallback_race %ld", &s->spec_race) == 1 ||
		    sscanf(line, "spec_fallback_locked %ld", &s->spec_locked) == 1 ||
		    sscanf(line, "spec_fallback_file %ld", &s->spec_file) == 1 ||
		    sscanf(line, "spec_finished %ld", &s->spec_finished) == 1 ||
		    !strncmp(line, "event ", 6))
			continue;
		if (sscanf(line, "%23s %llu %llu %llu %llu %llu", name, &c[0],
			   &c[1], &c[2], &c[3], &c[4]) != 1 + VMS_NR_MODES ||
		    s->nr_events == VMS_MAX_EVENTS)
			return -EINVAL;
		strcpy(s->event[s->nr_events], name);
		for (int m = 0; m < VMS_NR_MODES; m++)
			s->count[s->nr_events][m] = c[m];
		s->nr_events++;
	}
	return s->nr_events ? 0 : -EINVAL;
}

/* Count of @event in mode @m, or -1 if the stats file has no such event. */
static inline int64_t vms_count(const struct vms_stats *s, const char *event,
				int m)
{
	for (int i = 0; i < s->nr_events; i++)
		if (!strcmp(s->event[i], event))
			return s->count[i][m];
	return -1;
}

/* Sum of every event of mode @m. */
static inline uint64_t vms_mode_total(const struct vms_stats *s, int m)
{
	uint64_t t = 0;

	for (int i = 0; i < s->nr_events; i++)
		t += s->count[i][m];
	return t;
}

/* One counter of /proc/vmstat, or -1. */
static inline long long vmstat_get(const char *name)
{
	char key[64];
	long long val, ret = -1;
	FILE *f = fopen("/proc/vmstat", "r");

	if (!f)
		return -1;
	while (fscanf(f, "%63s %lld", key, &val) == 2) {
		if (!strcmp(key, name)) {
			ret = val;
			break;
		}
	}
	fclose(f);
	return ret;
}

/*
 * FIXTURE_SETUP body of the per-mode fixtures: root, the module loaded (and
 * @loaded_here set if this test loaded it), mode @mode with the kernel-fault
 * knob on and the statistics reset.
 */
#define VMS_SETUP_MODE(mode, loaded_here) do {					\
	if (geteuid())								\
		SKIP(return, "must be run as root");				\
	if (!vms_loaded()) {							\
		if (!vms_ko_path())						\
			SKIP(return, "vmashadow.ko not found ($VMASHADOW_KO)");	\
		ASSERT_EQ(0, vms_load(NULL));					\
		(loaded_here) = true;						\
	}									\
	ASSERT_EQ(0, vms_write("mode", vms_modes[mode]));			\
	ASSERT_EQ(0, vms_write("kernel_faults", "1"));				\
	/* Every VMA indexed at its first miss: the most index traffic. */	\
	ASSERT_EQ(0, vms_write("admit_ms", "0"));				\
	ASSERT_EQ(0, vms_write("min_age_ms", "0"));				\
	ASSERT_EQ(0, vms_write("reset", "1"));					\
} while (0)

/* FIXTURE_TEARDOWN counterpart: defaults back, unload if loaded here. */
static inline void vms_teardown_mode(bool loaded_here)
{
	if (!vms_loaded())
		return;
	vms_write("kernel_faults", "1");
	vms_write("admit_ms", VMS_ADMIT_MS_DEFAULT);
	vms_write("min_age_ms", VMS_MIN_AGE_MS_DEFAULT);
	vms_write("mode", "shadow");
	if (loaded_here)
		vms_unload();
}

/*
 * Signal-safe probing of one access, as mm/guard-regions.c does it, usable
 * from several threads at once: the jump buffer is per thread. A SIGSEGV or
 * SIGBUS outside a probe is not swallowed: the default action kills the test.
 */
enum vms_op { VMS_READ, VMS_WRITE, VMS_EXEC };

static __thread sigjmp_buf vms_probe_env;
static __thread volatile sig_atomic_t vms_probe_armed, vms_probe_code;

static void vms_probe_handler(int signo, siginfo_t *si, void *uc)
{
	(void)uc;
	if (!vms_probe_armed) {
		signal(signo, SIG_DFL);	/* re-faults and dies */
		return;
	}
	vms_probe_armed = 0;
	vms_probe_code = si->si_code;
	siglongjmp(vms_probe_env, signo);
}

/* Once per process, before the first vms_access(). */
static inline void vms_probe_install(void)
{
	struct sigaction sa = {
		.sa_sigaction = vms_probe_handler,
		/* No mask to restore: sigsetjmp(env, 0) stays a plain call. */
		.sa_flags = SA_SIGINFO | SA_NODEFER,
	};

	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
}

/*
 * One access at @p: VMS_READ stores the long read in *@val, VMS_WRITE writes
 * *@val, VMS_EXEC calls @p. Returns 0, or the signal it raised with its
 * si_code in *@code.
 */
static inline int vms_access(void *p, enum vms_op op, long *val, int *code)
{
	int signo = sigsetjmp(vms_probe_env, 0);

	if (signo) {
		*code = vms_probe_code;
		return signo;
	}
	vms_probe_armed = 1;
	switch (op) {
	case VMS_READ:
		*val = *(volatile long *)p;
		break;
	case VMS_WRITE:
		*(volatile long *)p = *val;
		break;
	case VMS_EXEC:
		((void (*)(void))p)();
		break;
	}
	vms_probe_armed = 0;
	return 0;
}

/* Private anonymous memory with THP off, so one fault is one page; or NULL. */
static inline char *vms_map_anon(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	madvise(p, len, MADV_NOHUGEPAGE);
	return p;
}

#endif /* VMASHADOW_SELFTEST_H */
