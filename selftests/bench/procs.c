// SPDX-License-Identifier: GPL-2.0
/*
 * vmashadow_bench procs: what the per-process state of a fault hook costs
 * when processes come and go. "fork": batches of --threads children, each
 * faulting PROCS_PAGES fresh pages and exiting, for --seconds (procs_per_sec).
 * "exit": MASS_EXIT_PROCS children fault their pages and wait; then all
 * exit at once and are reaped (exits_per_sec). Faults are counted with
 * RUSAGE_CHILDREN: a run whose children did not fault measured nothing.
 */
#include "bench.h"

#define PROCS_PAGES	16
#define MASS_EXIT_PROCS	2000

static void procs_child(char *region, int ready_fd, int go_fd)
{
	char c = 1;

	for (int i = 0; i < PROCS_PAGES; i++)
		region[(size_t)i * page_size] = (char)i;
	if (ready_fd >= 0 && write(ready_fd, &c, 1) != 1)
		_exit(1);
	if (go_fd >= 0 && read(go_fd, &c, 1) < 0)
		_exit(1);
	_exit(0);
}

static int reap(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid) {
		perror("waitpid");
		return -1;
	}
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

int run_procs(void)
{
	size_t len = (size_t)PROCS_PAGES * page_size;
	char *region = mmap(NULL, len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct rusage ru0, ru1;
	uint64_t faults, procs = 0;
	double t0, busy;
	pid_t *pids;
	int n = cfg.variant == V_EXIT ? MASS_EXIT_PROCS : cfg.threads;

	/* Never touched here: every child's writes are its own faults. */
	if (region == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	if (no_huge_pages(region, len))
		return 1;
	pids = calloc(n, sizeof(*pids));
	if (!pids) {
		perror("calloc");
		return 1;
	}
	getrusage(RUSAGE_CHILDREN, &ru0);
	if (cfg.variant == V_FORK) {
		double end = now() + cfg.seconds;

		t0 = now();
		while (now() < end) {
			for (int i = 0; i < n; i++) {
				pids[i] = fork();
				if (pids[i] < 0) {
					perror("fork");
					return 1;
				}
				if (!pids[i])
					procs_child(region, -1, -1);
			}
			for (int i = 0; i < n; i++)
				if (reap(pids[i]))
					return 1;
			procs += n;
		}
		busy = now() - t0;
	} else {
		int ready[2], go[2];
		char c;

		if (pipe(ready) || pipe(go)) {
			perror("pipe");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			pids[i] = fork();
			if (pids[i] < 0) {
				perror("fork");
				return 1;
			}
			if (!pids[i]) {
				close(ready[0]);
				close(go[1]);
				procs_child(region, ready[1], go[0]);
			}
		}
		close(ready[1]);
		close(go[0]);
		for (int i = 0; i < n; i++)
			if (read(ready[0], &c, 1) != 1) {
				fprintf(stderr, "vmashadow_bench: a child died before it was ready\n");
				return 1;
			}
		/* Everyone holds its faulted pages: now all of them exit. */
		t0 = now();
		close(go[1]);
		for (int i = 0; i < n; i++)
			if (reap(pids[i]))
				return 1;
		busy = now() - t0;
		procs = n;
		close(ready[0]);
	}
	getrusage(RUSAGE_CHILDREN, &ru1);
	faults = fault_count(&ru1) - fault_count(&ru0);
	printf("# procs %s: %llu processes in %.3f s, %llu faults counted by the kernel for %llu pages written\n",
	       cfg.variant_name, (unsigned long long)procs, busy,
	       (unsigned long long)faults,
	       (unsigned long long)(procs * PROCS_PAGES));
	if (faults < procs * PROCS_PAGES || busy <= 0) {
		fflush(stdout);
		fprintf(stderr,
			"vmashadow_bench: %llu faults for %llu pages written: this run measured nothing\n",
			(unsigned long long)faults,
			(unsigned long long)(procs * PROCS_PAGES));
		return 1;
	}
	if (cfg.variant == V_FORK)
		print_result("procs_per_sec", "procs/s", procs / busy, faults,
			     procs * PROCS_PAGES);
	else
		print_result("exits_per_sec", "exits/s", procs / busy, faults,
			     procs * PROCS_PAGES);
	free(pids);
	munmap(region, len);
	return 0;
}
