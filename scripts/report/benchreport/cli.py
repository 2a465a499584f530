# SPDX-License-Identifier: GPL-2.0
"""Tables, ratios with confidence intervals and figures from vmashadow benches.

Usage: bench-report.py RESULTS_DIR
       bench-report.py --compare DIR_A DIR_B
       bench-report.py --synth DIR [SEED]
       bench-report.py --self-test

RESULTS_DIR holds raw.log (the guest's output of the benches) and/or
path-raw.log (instructions per fault along the fault path, same grammar),
and optionally meta.txt ("key: value" lines, all printed in the report;
"modes:" and "scenarios:", lists separated by spaces or commas, give the
order of the columns and tables and the modes a RUN line may name, default
the modes of scripts/modes; "none", the module not loaded, is always allowed)
and host-load.log (host time, CPUs busy outside the guest, CPUs the guest
used; one sample a line, from scripts/bench/bench.sh).
Log lines that matter (anything before the keyword, such as "# ", is
ignored; so are all other lines, STATS lines included):

  RUN rep=R mode=M scenario=S variant=V threads=N [t=EPOCH]
  RESULT scenario=S variant=V threads=N metric=X unit=U value=F faults=F touched=T
  DIAG scenario=S variant=V threads=N key=value...
  FAIL rep=R mode=M scenario=S variant=V threads=N rc=C

RESULT and DIAG lines belong to the RUN line before them (a RUN with
scenario=latency, as scripts/guest/guest-bench.sh names "contended --latency",
takes RESULT lines of scenario contended or uncontended with lat_* metrics).
Repetition 0 is warm-up and is discarded. Metrics ending in _per_sec are
throughputs (higher is better, Hmean); all others, lat_*_ns and
insn_per_fault included, are costs (lower is better, Amean). In
path-raw.log, scenario=path, variant=CASE-vmasN and metric=insn_per_fault
make the Path table (every mode against mode none) and path.png.
DIAG lines (where the time went) are averaged per mode, never compared.

RESULTS_DIR: writes runs.csv, summary.csv, comparisons.csv, report.txt,
bench.png and path.png (when there are such results) into RESULTS_DIR and
prints report.txt.
--compare: the same scenario, variant, threads, metric and mode in two
results directories, B against A (ratio B/A); prints, writes nothing.
--synth: writes a synthetic results directory (fake but realistic data,
for trying the report out); --self-test: runs the TAP self-test.

Exit status: 0 all is well; 1 a run failed, a run produced no result or a
line was malformed (in either directory with --compare), or nothing could be
compared, after writing and printing everything; 2 bad usage, a missing
directory, no raw.log or path-raw.log in it, or an unreadable file;
3 scipy or pandas (or numpy) cannot be imported (make deps installs them).
"""

import importlib
import os
import sys


def need_numeric_stack():
    """Exit 3 if numpy, pandas or scipy cannot be imported (before any
    module of the package imports them)."""
    try:
        for name in ("numpy", "pandas", "scipy.stats"):
            importlib.import_module(name)
    except ImportError as e:  # pragma: no cover
        print(f"bench-report: needs numpy, scipy and pandas ({e}); "
              f"'make deps' installs them into the project's venv",
              file=sys.stderr)
        sys.exit(3)


need_numeric_stack()

# The package's modules import them.
from .analyse import analyse, compare_results, split_path
from .common import UsageError
from .format import format_compare, format_report, write_csvs
from .parse import load
from .stats import Tests


def report(results_dir):
    """Write everything into results_dir; returns (exit status, state)."""
    res = load(results_dir)
    tests = Tests()
    main_df, path_df = split_path(res.df)
    blocks = analyse(main_df, tests, res.modes, res.scenarios)
    path_blocks = analyse(path_df, tests, res.modes, res.scenarios, path=True)
    tests.correct()
    write_csvs(results_dir, res, {**blocks, **path_blocks}, tests)
    text = format_report(res, blocks, path_blocks, tests)
    with open(os.path.join(results_dir, "report.txt"), "w") as f:
        f.write(text)
    from . import plot      # matplotlib, if at all, only now
    plot.write_plot(os.path.join(results_dir, "bench.png"), res.meta, blocks,
                    res.modes)
    plot.write_path_plot(os.path.join(results_dir, "path.png"), res.meta,
                         path_blocks, res.modes)
    sys.stdout.write(text)
    if res.bad():
        print(f"bench-report: {len(res.log.failures)} failed runs, "
              f"{len(res.log.problems)} problems, {len(res.log.results)} "
              f"results: see {os.path.join(results_dir, 'report.txt')}",
              file=sys.stderr)
    return (1 if res.bad() else 0), {"blocks": blocks, "path": path_blocks,
                                     "tests": tests, "text": text}


def compare(dir_a, dir_b):
    """B against A, same scenario/variant/threads/metric/mode; prints."""
    a, b = load(dir_a), load(dir_b)
    cmp = compare_results(a, b)
    text = format_compare(a, b, cmp)
    sys.stdout.write(text)
    common = cmp["common"]
    bad = a.bad() or b.bad() or not common
    if bad:
        print(f"bench-report: A: {len(a.log.failures)} failed runs, "
              f"{len(a.log.problems)} problems; B: {len(b.log.failures)} "
              f"failed runs, {len(b.log.problems)} problems; {len(common)} "
              f"combinations in both", file=sys.stderr)
    return (1 if bad else 0), {"rows": cmp["rows"], "tests": cmp["tests"],
                               "text": text}


def usage():
    doc = __doc__.strip().split("\n\n")[1]
    print(doc, file=sys.stderr)
    return 2


def main(argv):
    args = argv[1:]
    try:
        if args == ["--self-test"]:
            from .tests import self_test
            return self_test()
        if args[:1] == ["--compare"]:
            if len(args) != 3:
                return usage()
            return compare(args[1], args[2])[0]
        if args[:1] == ["--synth"]:
            if len(args) not in (2, 3) or (len(args) == 3 and
                                           not args[2].isdigit()):
                return usage()
            from .synth import synth_realistic
            os.makedirs(args[1], exist_ok=True)
            synth_realistic(args[1], int(args[2]) if len(args) == 3 else 1)
            print(f"bench-report: synthetic results in {args[1]}")
            return 0
        if len(args) != 1 or args[0].startswith("-"):
            return usage()
        return report(args[0])[0]
    except UsageError as e:
        print(f"bench-report: {e}", file=sys.stderr)
        return 2

