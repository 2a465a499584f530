// SPDX-License-Identifier: GPL-2.0
/*
 * vmashadow_bench's command line: the names it takes, usage(), and
 * parse_args(), which checks every option against its scenario and fills
 * in cfg with the scenario's defaults.
 */
#include "bench.h"

struct config cfg;

const char *const scenario_names[] = {
	[SC_CONTENDED] = "contended",
	[SC_UNCONTENDED] = "uncontended",
	[SC_KERNEL_FAULTS] = "kernel-faults",
	[SC_SCALE] = "scale",
	[SC_CHURN] = "churn",
	[SC_PF1] = "page_fault1",
	[SC_PF2] = "page_fault2",
	[SC_PF3] = "page_fault3",
	[SC_PFT] = "pft",
	[SC_PATH] = "path",
	[SC_PROCS] = "procs",
};

const char *const variant_names[] = {
	[V_NONE] = "-",
	[V_MUNMAP] = "munmap",
	[V_MPROTECT] = "mprotect",
	[V_THREADS] = "threads",
	[V_PROCESSES] = "processes",
	[V_FORK] = "fork",
	[V_EXIT] = "exit",
};

const char *const case_names[] = {
	[PC_USER] = "user",
	[PC_KERNEL] = "kernel",
	[PC_NEWVMA] = "newvma",
	[PC_CHURN] = "churn",
	[PC_COW] = "cow",
	[PC_ZEROWP] = "zerowp",
	[PC_REUSE] = "reuse",
	[PC_FILE] = "file",
	[PC_FALLBACK] = "fallback",
	[PC_ALL] = "all",
	[PC_PROCS] = "procs",
	[PC_YOUNG] = "young",
	[PC_SPLIT] = "split",
};

static const char *const counter_names[] = {
	[CNT_AUTO] = "auto",
	[CNT_PERF] = "perf",
	[CNT_CLOCK] = "clock",
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vmashadow_bench SCENARIO [--threads N] [--seconds S] [--pages P]\n"
		"                       [--variant V] [--writer-pages W] [--latency]\n"
		"                       [--vmas K] [--case C] [--rounds R]\n"
		"                       [--counter auto|perf|clock] [--icount] [--mb M]\n"
		"                       [--settle MS]\n"
		"       vmashadow_bench --list\n"
		"  SCENARIO    contended | uncontended | scale | kernel-faults | churn |\n"
		"              path | page_fault1 | page_fault2 | page_fault3 | pft |\n"
		"              procs\n"
		"  --list      print the scenarios, one a line\n"
		"  --threads   faulting threads (page_fault*: tasks), 1..%d (default 2;\n"
		"              uncontended, churn: 1; path: 1 only)\n"
		"  --seconds   measured time, %.2f..%.0f (default 2; plus a warm-up;\n"
		"              not for path, which counts --rounds)\n"
		"  --pages     4 KiB pages per thread, 1..%ld (default 256; churn:\n"
		"              pages per mapping, default %d; path: per round, default\n"
		"              %d for user and kernel, %d fresh VMAs for newvma, %d\n"
		"              pages per mapping for churn)\n"
		"  --variant   contended, kernel-faults: munmap (default) | mprotect;\n"
		"              page_fault*: threads (default) | processes; procs:\n"
		"              fork (default: --threads children at a time) | exit\n"
		"              (2000 children exit at once); others: -\n"
		"  --writer-pages  the writer's region, 2..%ld pages (default %d for\n"
		"              munmap, %d for mprotect)\n"
		"  --latency   per-fault latency percentiles (contended, uncontended)\n"
		"  --vmas      churn, path: first map and fault K one-page VMAs,\n"
		"              0..%ld (default 0; churn's variant is then vmasK; K\n"
		"              above ~32000 needs a higher vm.max_map_count)\n"
		"  --case      path: user | kernel | newvma | churn | cow (writes\n"
		"              to pages a forked child shares) | zerowp (writes to\n"
		"              pages a read mapped to the zero page) | reuse (writes\n"
		"              to pages a forked child shared, and has exited) |\n"
		"              file (reads of a memfd the page cache holds) |\n"
		"              fallback (user with every speculative fault's\n"
		"              validation failing: fail_fault_spec) | all\n"
		"              (default: the nine) | procs (fork, 16 faults, exit; --pages\n"
		"              processes a round, default 16) | young (a fresh\n"
		"              region's first %d ms, no --settle: as user, rounds\n"
		"              until then, each reported) | split (with --settle:\n"
		"              a hot region split in two, the new half's first\n"
		"              ms faulted as young)\n"
		"  --rounds    path: measured rounds per case, 1..%ld (default %d;\n"
		"              plus one warm-up round)\n"
		"  --counter   path: perf (instructions, perf_event_open), clock\n"
		"              (CLOCK_MONOTONIC), auto (default: perf if it counts)\n"
		"  --icount    path: the clock counts instructions (QEMU -icount\n"
		"              shift=0): report a clock count as instructions\n"
		"  --mb        page_fault*: MiB per task (default %d); pft: MiB of the\n"
		"              region all threads share (default %d); 1..%ld\n"
		"  --settle    path: sleep MS ms (0..%ld, default 0) first, and in user\n"
		"              and kernel after the warm-up round, then run one more\n"
		"              warm-up round: an index that admits a process, or a\n"
		"              VMA, only after a delay then holds the region\n",
		MAX_THREADS, MIN_SECONDS, MAX_SECONDS, MAX_PAGES, CHURN_PAGES,
		PATH_PAGES, PATH_NEWVMAS, CHURN_PAGES,
		MAX_CHURN_PAGES, CHURN_PAGES, CHURN_PAGES_MPROTECT, MAX_VMAS,
		PATH_YOUNG_MS, MAX_ROUNDS, PATH_ROUNDS, WIS_MB, PFT_MB, MAX_MB,
		MAX_SETTLE_MS);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
bad_args(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vmashadow_bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	usage(stderr);
	exit(2);
}

/* A plain decimal integer in [min, max]: no sign, no spaces, no suffix. */
static bool parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	if ((*s < '0' || *s > '9') && *s != '.')
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v < MIN_SECONDS || v > MAX_SECONDS)
		return false;
	*out = v;
	return true;
}

static int lookup(const char *const *names, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(names[i], s))
			return i;
	return -1;
}

/* "--opt value" or "--opt=value"; returns the value, or NULL if not @opt. */
static const char *option_value(int argc, char **argv, int *i, const char *opt)
{
	size_t len = strlen(opt);
	const char *arg = argv[*i];

	if (strncmp(arg, opt, len))
		return NULL;
	if (arg[len] == '=')
		return arg + len + 1;
	if (arg[len])
		return NULL;
	if (*i + 1 >= argc)
		bad_args("%s needs a value", opt);
	return argv[++*i];
}

void parse_args(int argc, char **argv)
{
	const char *variant = NULL, *v;
	bool threads_given = false, pages_given = false, seconds_given = false;
	long writer_pages = 0, vmas = -1, rounds = -1, mb = -1, settle = -1;
	int pcase = -1, counter = -1;
	bool icount = false;
	long n;
	int sc;

	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout);
		exit(0);
	}
	if (argc >= 2 && !strcmp(argv[1], "--list")) {
		if (argc > 2)
			bad_args("--list takes no other argument");
		for (int i = 0; i < ARRAY_SIZE(scenario_names); i++)
			printf("%s\n", scenario_names[i]);
		exit(0);
	}
	if (argc < 2)
		bad_args("missing SCENARIO");
	sc = lookup(scenario_names, ARRAY_SIZE(scenario_names), argv[1]);
	if (sc < 0)
		bad_args("unknown scenario '%s'", argv[1]);
	cfg = (struct config){ .scenario = sc, .threads = 2, .pages = 256,
			       .seconds = 2.0 };

	for (int i = 2; i < argc; i++) {
		if ((v = option_value(argc, argv, &i, "--threads"))) {
			if (!parse_long(v, 1, MAX_THREADS, &n))
				bad_args("bad --threads '%s'", v);
			cfg.threads = (int)n;
			threads_given = true;
		} else if ((v = option_value(argc, argv, &i, "--pages"))) {
			if (!parse_long(v, 1, MAX_PAGES, &n))
				bad_args("bad --pages '%s'", v);
			cfg.pages = n;
			pages_given = true;
		} else if ((v = option_value(argc, argv, &i, "--seconds"))) {
			if (!parse_seconds(v, &cfg.seconds))
				bad_args("bad --seconds '%s'", v);
			seconds_given = true;
		} else if ((v = option_value(argc, argv, &i, "--variant"))) {
			variant = v;
		} else if ((v = option_value(argc, argv, &i, "--writer-pages"))) {
			if (!parse_long(v, 2, MAX_CHURN_PAGES, &writer_pages))
				bad_args("bad --writer-pages '%s'", v);
		} else if ((v = option_value(argc, argv, &i, "--vmas"))) {
			if (!parse_long(v, 0, MAX_VMAS, &vmas))
				bad_args("bad --vmas '%s'", v);
		} else if ((v = option_value(argc, argv, &i, "--case"))) {
			pcase = lookup(case_names, ARRAY_SIZE(case_names), v);
			if (pcase < 0)
				bad_args("bad --case '%s'", v);
		} else if ((v = option_value(argc, argv, &i, "--rounds"))) {
			if (!parse_long(v, 1, MAX_ROUNDS, &rounds))
				bad_args("bad --rounds '%s'", v);
		} else if ((v = option_value(argc, argv, &i, "--counter"))) {
			counter = lookup(counter_names, ARRAY_SIZE(counter_names), v);
			if (counter < 0)
				bad_args("bad --counter '%s'", v);
		} else if ((v = option_value(argc, argv, &i, "--settle"))) {
			if (!parse_long(v, 0, MAX_SETTLE_MS, &settle))
				bad_args("bad --settle '%s'", v);
		} else if ((v = option_value(argc, argv, &i, "--mb"))) {
			if (!parse_long(v, 1, MAX_MB, &mb))
				bad_args("bad --mb '%s'", v);
		} else if (!strcmp(argv[i], "--icount")) {
			icount = true;
		} else if (!strcmp(argv[i], "--latency")) {
			cfg.latency = true;
		} else {
			bad_args("unknown argument '%s'", argv[i]);
		}
	}

	switch (cfg.scenario) {
	case SC_CONTENDED:
	case SC_KERNEL_FAULTS:
		cfg.variant = variant ? lookup(variant_names, ARRAY_SIZE(variant_names),
					       variant) : V_MUNMAP;
		if (cfg.variant != V_MUNMAP && cfg.variant != V_MPROTECT)
			bad_args("%s: bad --variant '%s'", argv[1], variant);
		break;
	case SC_PF1:
	case SC_PF2:
	case SC_PF3:
		cfg.variant = variant ? lookup(variant_names, ARRAY_SIZE(variant_names),
					       variant) : V_THREADS;
		if (cfg.variant != V_THREADS && cfg.variant != V_PROCESSES)
			bad_args("%s: bad --variant '%s' (threads or processes)",
				 argv[1], variant);
		break;
	case SC_PROCS:
		cfg.variant = variant ? lookup(variant_names, ARRAY_SIZE(variant_names),
					       variant) : V_FORK;
		if (cfg.variant != V_FORK && cfg.variant != V_EXIT)
			bad_args("procs: bad --variant '%s' (fork or exit)", variant);
		break;
	case SC_UNCONTENDED:
	case SC_SCALE:
	case SC_CHURN:
	case SC_PATH:
	case SC_PFT:
		cfg.variant = V_NONE;
		if (variant && strcmp(variant, "-"))
			bad_args("%s has no writer: bad --variant '%s'",
				 argv[1], variant);
		break;
	}
	if (writer_pages && cfg.variant == V_NONE)
		bad_args("%s has no writer: --writer-pages makes no sense",
			 argv[1]);
	cfg.writer_pages = writer_pages ? writer_pages :
			   cfg.variant == V_MPROTECT ? CHURN_PAGES_MPROTECT :
			   CHURN_PAGES;
	if (cfg.scenario == SC_UNCONTENDED) {
		if (threads_given && cfg.threads != 1)
			bad_args("uncontended: --threads must be 1");
		cfg.threads = 1;
	}
	if (vmas >= 0 && cfg.scenario != SC_CHURN && cfg.scenario != SC_PATH)
		bad_args("--vmas is for churn and path, not %s", argv[1]);
	if ((pcase >= 0 || rounds >= 0 || counter >= 0 || icount || settle >= 0) &&
	    cfg.scenario != SC_PATH)
		bad_args("--case, --rounds, --counter, --icount and --settle are for path, not %s",
			 argv[1]);
	if (mb >= 0 && cfg.scenario != SC_PF1 && cfg.scenario != SC_PF2 &&
	    cfg.scenario != SC_PF3 && cfg.scenario != SC_PFT)
		bad_args("--mb is for page_fault1..3 and pft, not %s", argv[1]);
	if (cfg.scenario == SC_PATH) {
		if (threads_given && cfg.threads != 1)
			bad_args("path: --threads must be 1");
		if (seconds_given)
			bad_args("path counts --rounds, not --seconds");
		if (cfg.latency)
			bad_args("--latency is for contended and uncontended, not path");
		cfg.threads = 1;
		cfg.vmas = vmas > 0 ? vmas : 0;
		cfg.pcase = pcase >= 0 ? pcase : PC_ALL;
		cfg.rounds = rounds > 0 ? rounds : PATH_ROUNDS;
		cfg.counter = counter >= 0 ? counter : CNT_AUTO;
		cfg.icount = icount;
		cfg.settle_ms = settle > 0 ? settle : 0;
		if (cfg.pcase == PC_YOUNG && (cfg.settle_ms || rounds >= 0))
			bad_args("path young runs for its region's first %d ms: no --settle, no --rounds",
				 PATH_YOUNG_MS);
		if (cfg.pcase == PC_SPLIT && (!cfg.settle_ms || rounds >= 0))
			bad_args("path split needs --settle (its region must be hot) and runs for %d ms: no --rounds",
				 PATH_YOUNG_MS);
		cfg.pages_given = pages_given;
		if (!pages_given)
			cfg.pages = PATH_PAGES;
	}
	if (cfg.scenario == SC_PF1 || cfg.scenario == SC_PF2 ||
	    cfg.scenario == SC_PF3)
		cfg.mb = mb > 0 ? mb : WIS_MB;
	if (cfg.scenario == SC_PFT) {
		cfg.mb = mb > 0 ? mb : PFT_MB;
		if ((cfg.mb << 20) / sysconf(_SC_PAGESIZE) < cfg.threads)
			bad_args("pft: --mb %ld is less than a page per thread", cfg.mb);
	}
	if (cfg.mb && (pages_given))
		bad_args("%s sizes its regions with --mb, not --pages", argv[1]);
	if (cfg.mb && cfg.threads * cfg.mb > 4 * MAX_MB)
		bad_args("--threads * --mb is too large");
	if (cfg.scenario == SC_CHURN) {
		if (!threads_given)
			cfg.threads = 1;
		if (!pages_given)
			cfg.pages = CHURN_PAGES;
		cfg.vmas = vmas > 0 ? vmas : 0;
	}
	if (cfg.vmas && cfg.scenario == SC_CHURN)
		snprintf(cfg.variant_name, sizeof(cfg.variant_name), "vmas%ld",
			 cfg.vmas);
	else
		snprintf(cfg.variant_name, sizeof(cfg.variant_name), "%s",
			 variant_names[cfg.variant]);
	if (cfg.latency && cfg.scenario != SC_CONTENDED &&
	    cfg.scenario != SC_UNCONTENDED)
		bad_args("--latency is for contended and uncontended, not %s",
			 argv[1]);
	if ((long)cfg.threads * cfg.pages > MAX_TOTAL_PAGES)
		bad_args("--threads * --pages is too large");
}
