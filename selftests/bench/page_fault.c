// SPDX-License-Identifier: GPL-2.0
/*
 * vmashadow_bench page_fault1, page_fault2, page_fault3: will-it-scale's.
 * N tasks, threads or processes (--variant), each mmap --mb MiB (private
 * anonymous; a tmpfs file, private; the same, shared), write one byte per
 * page, munmap, repeat; ops are pages written.
 */
#include "bench.h"

enum wis_phase { WP_WAIT, WP_WARMUP, WP_MEASURE, WP_STOP };

struct wis_slot {
	uint64_t ops, faults;	/* in the measured window */
	double elapsed;
	const char *err;	/* a string literal: valid in the parent too */
	int errnum;
	bool done;
} __attribute__((aligned(64)));

/* Shared with the tasks, processes included (MAP_SHARED). */
struct wis_shared {
	_Atomic int phase;
	_Atomic int ready;
	char pad[56];
	struct wis_slot slot[];
};

static struct wis_shared *wis;

static void wis_fail(struct wis_slot *s, const char *what)
{
	s->err = what;
	s->errnum = errno;
}

/*
 * One task, as will-it-scale's testcase(): mmap, write one byte per page
 * (counting each as an op), munmap, forever. The phase is looked at after
 * every page, so a task's window starts and ends at a page and its fault
 * count (getrusage) covers exactly the ops it counts.
 */
static void wis_task(int idx)
{
	struct wis_slot *s = &wis->slot[idx];
	size_t len = (size_t)cfg.mb << 20;
	long npages = len / page_size;
	int seen = WP_WARMUP, flags = MAP_PRIVATE, fd = -1;
	uint64_t ops = 0, ops0 = 0, f0 = 0;
	double t0 = 0;

	if (cfg.scenario != SC_PF1) {
		/* will-it-scale uses a file in /tmp; here tmpfs for sure */
		fd = memfd_create("vmashadow_bench", MFD_CLOEXEC);
		if (fd < 0)
			wis_fail(s, "memfd_create");
		else if (ftruncate(fd, len))
			wis_fail(s, "ftruncate");
		if (cfg.scenario == SC_PF3)
			flags = MAP_SHARED;
	} else {
		flags |= MAP_ANONYMOUS;
	}
	atomic_fetch_add(&wis->ready, 1);
	while (atomic_load(&wis->phase) == WP_WAIT)
		sleep_seconds(0.001);
	if (s->err)
		goto out;

	while (seen != WP_STOP) {
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, 0);

		if (p == MAP_FAILED) {
			wis_fail(s, "mmap");
			goto out;
		}
		if (no_huge_pages(p, len)) {
			wis_fail(s, "madvise(MADV_NOHUGEPAGE)");
			munmap(p, len);
			goto out;
		}
		for (long i = 0; i < npages; i++) {
			int ph;

			((volatile char *)p)[i * page_size] = 0;
			ops++;
			ph = atomic_load_explicit(&wis->phase, memory_order_relaxed);
			if (ph == seen)
				continue;
			if (seen == WP_WARMUP) {	/* to MEASURE or STOP */
				ops0 = ops;
				f0 = thread_faults();
				t0 = now();
			}
			if (ph == WP_STOP) {
				s->ops = ops - ops0;
				s->faults = thread_faults() - f0;
				s->elapsed = now() - t0;
				seen = WP_STOP;
				break;
			}
			seen = ph;
		}
		if (munmap(p, len)) {
			wis_fail(s, "munmap");
			goto out;
		}
	}
out:
	if (fd >= 0)
		close(fd);
	s->done = true;
}

static void *wis_thread(void *arg)
{
	wis_task((int)(intptr_t)arg);
	return NULL;
}

int run_wis(void)
{
	size_t shlen = sizeof(*wis) + cfg.threads * sizeof(struct wis_slot);
	bool procs = cfg.variant == V_PROCESSES;
	pthread_t *tids = NULL;
	pid_t *pids = NULL;
	uint64_t ops = 0, faults = 0;
	double per_task = 0, warmup = cfg.seconds / 10, t0;
	int started = 0, ret = 1;

	if (warmup < MIN_WARMUP)
		warmup = MIN_WARMUP;
	wis = mmap(NULL, shlen, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (wis == MAP_FAILED) {
		perror("mmap(shared)");
		return 1;
	}
	tids = calloc(cfg.threads, sizeof(*tids));
	pids = calloc(cfg.threads, sizeof(*pids));
	if (!tids || !pids) {
		perror("calloc");
		goto out;
	}
	fflush(stdout);
	for (; started < cfg.threads; started++) {
		if (procs) {
			pid_t pid = fork();

			if (pid < 0) {
				perror("fork");
				break;
			}
			if (!pid) {
				wis_task(started);
				_exit(0);
			}
			pids[started] = pid;
		} else {
			int err = pthread_create(&tids[started], NULL, wis_thread,
						 (void *)(intptr_t)started);

			if (err) {
				errno = err;
				perror("pthread_create");
				break;
			}
		}
	}
	/* Every task that started gets to its end, even after a failure. */
	t0 = now();
	while (atomic_load(&wis->ready) < started && now() - t0 < 60)
		sleep_seconds(0.001);
	atomic_store(&wis->phase, WP_WARMUP);
	if (started == cfg.threads && atomic_load(&wis->ready) == started) {
		sleep_seconds(warmup);
		atomic_store(&wis->phase, WP_MEASURE);
		sleep_seconds(cfg.seconds);
	}
	atomic_store(&wis->phase, WP_STOP);
	for (int i = 0; i < started; i++) {
		if (procs) {
			int status;

			if (waitpid(pids[i], &status, 0) < 0) {
				perror("waitpid");
				goto out;
			}
			if (!WIFEXITED(status) || WEXITSTATUS(status)) {
				fprintf(stderr, "vmashadow_bench: task %d died (status %#x)\n",
					i, status);
				goto out;
			}
		} else {
			pthread_join(tids[i], NULL);
		}
	}
	if (started < cfg.threads)
		goto out;
	for (int i = 0; i < cfg.threads; i++) {
		struct wis_slot *s = &wis->slot[i];

		if (s->err || !s->done) {
			fprintf(stderr, "vmashadow_bench: task %d: %s: %s\n", i,
				s->err ? s->err : "did not finish",
				s->err ? strerror(s->errnum) : "");
			goto out;
		}
		ops += s->ops;
		faults += s->faults;
		if (s->elapsed > 0)
			per_task += s->ops / s->elapsed;
	}
	per_task /= cfg.threads;
	printf("# %s variant=%s tasks=%d mb=%ld seconds=%.2f warmup=%.2f: %llu faults counted by the kernel for %llu pages written (ops)\n",
	       scenario_names[cfg.scenario], cfg.variant_name, cfg.threads,
	       cfg.mb, cfg.seconds, warmup, (unsigned long long)faults,
	       (unsigned long long)ops);
	if (!faults || faults * 2 < ops) {
		measured_nothing(faults, ops, "written");
		goto out;
	}
	printf("# %.0f ops per task per second\n", per_task);
	print_result("ops_per_task_per_sec", "ops/s", per_task, faults, ops);
	ret = 0;
out:
	free(tids);
	free(pids);
	munmap(wis, shlen);
	return ret;
}
