// SPDX-License-Identifier: GPL-2.0
/*
 * Guest programs with known answers for the coherence plugin
 * (tools/coherence/README.md). Each test opens a window with the plugin's
 * magic NOP, runs, closes it, and prints what the plugin must have counted
 * in user mode, as "coh: test=NAME tag=T ... expect.FIELD=X tol.FIELD=T".
 *
 *   coh TEST[,TEST...]|all [N [PP_N]]
 *       TEST: single shared separate false pp-separate pp-false
 *       N: increments per thread (default 100000); PP_N: the same for
 *       the turn-taking tests (default 5000)
 *
 * As PID 1 (an initramfs's /init) it mounts devtmpfs, writes to
 * /dev/console, runs the tests named by the words after a word "coh" on
 * the kernel command line ("... -- coh all 1000 100"; default all) and
 * powers the machine off.
 *
 * Threads are pinned: thread 0 (the main thread) to CPU 0, thread 1 to
 * CPU 1, so that a thread is a vCPU.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <unistd.h>

/* nopl 0x4f4fTTCC(%rax): CC 1 start, 2 stop; TT the tag. */
#define MAGIC(cmd, tag) \
	asm volatile(".byte 0x0f,0x1f,0x80," #cmd "," #tag ",0x4f,0x4f" ::: "memory")

enum { T_SINGLE = 1, T_SHARED, T_SEPARATE, T_FALSE, T_PP_SEPARATE, T_PP_FALSE };

#define LINE 64
struct line {
	_Alignas(LINE) volatile uint64_t v[LINE / 8];
};

static struct line counter;	/* shared counters */
static struct line counter2;	/* a second line, for the separate tests */
static struct line go, done, turn, ready;

static long n;
static int test;

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void pin(int cpu)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	if (sched_setaffinity(0, sizeof(s), &s))
		die("sched_setaffinity (the tests need 2 CPUs)");
}

static void relax(void)
{
	/* Under round-robin TCG, PAUSE ends the vCPU's turn. */
	__builtin_ia32_pause();
}

static void start(void)
{
	switch (test) {
	case T_SINGLE: MAGIC(1, 1); break;
	case T_SHARED: MAGIC(1, 2); break;
	case T_SEPARATE: MAGIC(1, 3); break;
	case T_FALSE: MAGIC(1, 4); break;
	case T_PP_SEPARATE: MAGIC(1, 5); break;
	case T_PP_FALSE: MAGIC(1, 6); break;
	}
}

static void stop(void)
{
	switch (test) {
	case T_SINGLE: MAGIC(2, 1); break;
	case T_SHARED: MAGIC(2, 2); break;
	case T_SEPARATE: MAGIC(2, 3); break;
	case T_FALSE: MAGIC(2, 4); break;
	case T_PP_SEPARATE: MAGIC(2, 5); break;
	case T_PP_FALSE: MAGIC(2, 6); break;
	}
}

/* Per thread: the value each of its increments returned (free-running tests). */
static uint64_t *seen[2];

static void *xalloc(size_t bytes)
{
	void *p = aligned_alloc(4096, (bytes + 4095) & ~(size_t)4095);

	if (!p)
		die("aligned_alloc");
	memset(p, 0, bytes); /* fault it in before the window */
	return p;
}

/* The free-running loops: one lock xadd per iteration. */
static void run_free(int me)
{
	uint64_t *s = seen[me];
	volatile uint64_t *c;
	uint64_t add = 1;

	switch (test) {
	case T_SHARED:
		c = &counter.v[0];
		break;
	case T_SEPARATE:
		c = me ? &counter2.v[0] : &counter.v[0];
		break;
	default: /* T_FALSE: each thread its own 32-bit half of one word */
		c = &counter.v[0];
		add = me ? 1ull << 32 : 1;
		break;
	}
	for (long i = 0; i < n; i++)
		s[i] = __atomic_fetch_add(c, add, __ATOMIC_SEQ_CST);
}

/* Turn-taking: thread me increments its counter on turns 2i+me. */
static void run_pp(int me)
{
	volatile uint64_t *c;

	if (test == T_PP_FALSE)
		c = &counter.v[me]; /* 8 bytes apart, one line */
	else
		c = me ? &counter2.v[0] : &counter.v[0];
	for (long i = 0; i < n; i++) {
		uint64_t mine = 2 * (uint64_t)i + me;

		while (__atomic_load_n(&turn.v[0], __ATOMIC_ACQUIRE) != mine)
			relax();
		__atomic_fetch_add(c, 1, __ATOMIC_SEQ_CST);
		__atomic_store_n(&turn.v[0], mine + 1, __ATOMIC_RELEASE);
	}
}

static void run(int me)
{
	if (test == T_PP_SEPARATE || test == T_PP_FALSE)
		run_pp(me);
	else
		run_free(me);
}

static void *worker(void *arg)
{
	(void)arg;
	pin(1);
	seen[1] = xalloc(n * sizeof(uint64_t));
	__atomic_fetch_add(&ready.v[0], 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&go.v[0], __ATOMIC_ACQUIRE))
		relax();
	run(1);
	__atomic_store_n(&done.v[0], 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Owner changes in the order of the counter's modifications, which the
 * values the lock xadds returned give exactly. */
static long alternations(void)
{
	unsigned char *owner = calloc(2 * n, 1);
	long alt = 0;

	if (!owner)
		die("calloc");
	for (int t = 0; t < 2; t++) {
		for (long i = 0; i < n; i++) {
			uint64_t v = seen[t][i], pos;

			if (test == T_FALSE) /* own count i + the other's */
				pos = i + (t ? (v & 0xffffffff) : v >> 32);
			else
				pos = v;
			if (pos >= (uint64_t)(2 * n)) {
				fprintf(stderr, "coh: bad position %lu\n", (unsigned long)pos);
				exit(1);
			}
			owner[pos] = t;
		}
	}
	for (long i = 1; i < 2 * n; i++)
		alt += owner[i] != owner[i - 1];
	free(owner);
	return alt;
}

static long pct(long x)
{
	return x / 10;
}

static void two_threads(const char *name)
{
	pthread_t th;
	long alt, x;

	memset((void *)&counter, 0, sizeof(counter));
	memset((void *)&counter2, 0, sizeof(counter2));
	go.v[0] = done.v[0] = turn.v[0] = ready.v[0] = 0;
	pin(0);
	seen[0] = xalloc(n * sizeof(uint64_t));
	if (pthread_create(&th, NULL, worker, NULL))
		die("pthread_create");
	while (__atomic_load_n(&ready.v[0], __ATOMIC_ACQUIRE) != 1)
		relax();
	start();
	__atomic_store_n(&go.v[0], 1, __ATOMIC_RELEASE);
	run(0);
	while (!__atomic_load_n(&done.v[0], __ATOMIC_ACQUIRE))
		relax();
	stop();
	pthread_join(th, NULL);

	/*
	 * Besides the counters, each window holds two handshakes, each 1 or
	 * 2 transfers: "go" (the worker's first load after the main thread's
	 * store, and that store if the worker had loaded it since the window
	 * opened) and "done" (the same, the other way).
	 */
	printf("coh: test=%s tag=%d n=%ld", name, test, n);
	switch (test) {
	case T_SHARED:
	case T_FALSE:
		/*
		 * One transfer per change of owner of the line. Slack of 10%,
		 * at least 10: a host that preempts a vCPU thread between an
		 * atomic and its callback lets the other vCPU's callbacks pass
		 * it, two invented alternations each time, and a busy host
		 * does that a few times in a run of few alternations.
		 */
		alt = alternations();
		x = alt + 3;
		printf(" alternations=%ld expect.transfers=%ld tol.transfers=%ld", alt, x,
		       pct(x) > 10 ? pct(x) : 10);
		break;
	case T_SEPARATE:
		printf(" expect.transfers=3 tol.transfers=2");
		break;
	case T_PP_SEPARATE:
		/* Per increment: the taker's load of turn, its store passing it on. */
		x = 4 * n;
		printf(" expect.transfers=%ld tol.transfers=%ld", x, pct(x) + 4);
		break;
	case T_PP_FALSE:
		/* The same plus the counters' line changing owner every time. */
		x = 6 * n - 1;
		printf(" expect.transfers=%ld tol.transfers=%ld", x, pct(x) + 4);
		break;
	}
	printf(" expect.atomics=%ld tol.atomics=%ld\n", 2 * n, pct(2 * n));
	free(seen[0]);
	free(seen[1]);
	fflush(stdout);
}

static void single(void)
{
	uint64_t *a = xalloc(1024 * sizeof(uint64_t));

	pin(0);
	counter.v[0] = 0;
	start();
	for (long i = 0; i < n; i++) {
		__atomic_fetch_add(&counter.v[0], 1, __ATOMIC_SEQ_CST);
		((volatile uint64_t *)a)[i & 1023] = i;
	}
	stop();
	/* N lock incs (a load and a store each) and N plain stores. */
	printf("coh: test=single tag=%d n=%ld expect.transfers=0 tol.transfers=0"
	       " expect.atomics=%ld tol.atomics=%ld expect.stores=%ld tol.stores=%ld\n",
	       test, n, n, pct(n), 2 * n, pct(2 * n));
	free(a);
	fflush(stdout);
}

static const char *const names[] = {
	[T_SINGLE] = "single", [T_SHARED] = "shared", [T_SEPARATE] = "separate",
	[T_FALSE] = "false", [T_PP_SEPARATE] = "pp-separate", [T_PP_FALSE] = "pp-false",
};
#define NTESTS (sizeof(names) / sizeof(names[0]))

static long n_free, n_pp;

static int run_test(const char *name)
{
	for (size_t t = 1; t < NTESTS; t++) {
		if (strcmp(name, names[t]))
			continue;
		test = t;
		/* Turn-taking is a rendezvous per increment: fewer. */
		if (t == T_PP_SEPARATE || t == T_PP_FALSE)
			n = n_pp ? n_pp : 5000;
		else
			n = n_free ? n_free : 100000;
		if (t == T_SINGLE)
			single();
		else
			two_threads(name);
		return 0;
	}
	fprintf(stderr, "coh: unknown test '%s'\n", name);
	return 1;
}

/* "all", or test names separated by commas. */
static int run_all(const char *which)
{
	char *list, *save = NULL;
	int rc = 0;

	if (!strcmp(which, "all")) {
		for (size_t t = 1; t < NTESTS; t++)
			rc |= run_test(names[t]);
		return rc;
	}
	list = strdup(which);
	if (!list)
		die("strdup");
	for (char *w = strtok_r(list, ",", &save); w; w = strtok_r(NULL, ",", &save))
		rc |= run_test(w);
	free(list);
	return rc;
}

static long parse_n(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end || v <= 0 || v > 100000000) {
		fprintf(stderr, "coh: N must be an integer from 1 to 100000000 (got '%s')\n", s);
		exit(2);
	}
	return v;
}

/* LIST [N [PP_N]] */
static int run_args(int argc, char **argv)
{
	if (argc > 1)
		n_free = parse_n(argv[1]);
	if (argc > 2)
		n_pp = parse_n(argv[2]);
	return run_all(argc > 0 ? argv[0] : "all");
}

int main(int argc, char **argv)
{
	int rc;

	if (getpid() == 1) {
		int fd;

		mkdir("/dev", 0755);
		mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
		fd = open("/dev/console", O_RDWR);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		setvbuf(stdout, NULL, _IOLBF, 0);
		printf("coh: init, %ld CPUs\n", sysconf(_SC_NPROCESSORS_ONLN));
		/* The kernel hands init the words of its command line it does
		 * not know, then those after "--": ours follow a word "coh". */
		int i = argc - 1;

		while (i > 0 && strcmp(argv[i], "coh"))
			i--;
		rc = run_args(argc - i - 1, argv + i + 1);
		printf("coh: end rc=%d\n", rc);
		fflush(stdout);
		sync();
		reboot(RB_POWER_OFF);
		return rc;
	}
	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: %s TEST[,TEST...]|all [N [PP_N]]; TEST: single shared separate false pp-separate pp-false\n",
			argv[0]);
		return 2;
	}
	rc = run_args(argc - 1, argv + 1);
	printf("coh: end rc=%d\n", rc);
	return rc;
}
