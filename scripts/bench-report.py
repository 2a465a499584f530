#!/usr/bin/env python3
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
stock mmap pervma shadow; "none", the module not loaded, is always allowed)
and host-load.log (host time, CPUs busy outside the guest, CPUs the guest
used; one sample a line, from scripts/bench.sh).
Log lines that matter (anything before the keyword, such as "# ", is
ignored; so are all other lines, STATS lines included):

  RUN rep=R mode=M scenario=S variant=V threads=N [t=EPOCH]
  RESULT scenario=S variant=V threads=N metric=X unit=U value=F faults=F touched=T
  DIAG scenario=S variant=V threads=N key=value...
  FAIL rep=R mode=M scenario=S variant=V threads=N rc=C

RESULT and DIAG lines belong to the RUN line before them (a RUN with
scenario=latency, as scripts/guest-bench.sh names "contended --latency",
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

import contextlib
import importlib.util
import io
import math
import os
import random
import re
import sys
import tempfile
import warnings
from collections import defaultdict

try:
    import numpy as np
    import pandas as pd
    from scipy import stats
except ImportError as _e:  # pragma: no cover
    print(f"bench-report: needs numpy, scipy and pandas ({_e}); "
          f"'make deps' installs them into the project's venv",
          file=sys.stderr)
    sys.exit(3)

MODES = ["stock", "mmap", "pervma", "shadow"]
NONE = "none"       # the module not loaded (path-raw.log)
RATIOS = [("shadow", "stock"), ("shadow", "mmap"), ("shadow", "pervma"),
          ("pervma", "stock")]
SCENARIOS = ["contended", "uncontended", "kernel-faults", "latency", "scale",
             "churn", "page_fault1", "page_fault2", "page_fault3", "pft",
             "path"]
VARIANTS = ["-", "munmap", "mprotect", "threads", "processes"]
PATH_CASES = ["user", "kernel", "newvma", "churn", "procs"]
LATENCY_SCENARIOS = ["contended", "uncontended"]   # valid with --latency
METRICS = ["faults_per_sec", "ops_per_task_per_sec", "writer_ops_per_sec",
           "lat_p50_ns", "lat_p99_ns", "lat_max_ns", "insn_per_fault",
           "insn_per_proc"]
DEFAULT_THREADS = {"uncontended": 1, "churn": 1}  # the bench's; others: 2
ALPHA = 0.05
CONF = 0.95
RUN_KEYS = ["rep", "mode", "scenario", "variant", "threads"]
RESULT_KEYS = ["scenario", "variant", "threads", "metric", "unit", "value",
               "faults", "touched"]
RUNS_COLUMNS = ["source", "rep", "mode", "scenario", "variant", "threads",
                "metric", "unit", "value", "faults", "touched", "host_load"]
SUMMARY_COLUMNS = ["scenario", "variant", "mode", "threads", "metric", "unit",
                   "runs", "mean_kind", "mean", "stddev", "coeffvar_pct",
                   "min", "max"]
COMPARISON_COLUMNS = ["scenario", "variant", "threads", "metric", "a", "b",
                      "test", "n", "ratio", "ci_low", "ci_high", "p",
                      "p_holm", "significant"]
LOGS = ["raw.log", "path-raw.log"]
BUSY_HOST = 0.25    # CPUs of other host work: a run above is "disturbed"; two
                    # runs whose loads differ by more do not pair

LINE = re.compile(r"(?:^|[\s#\]])(RUN|RESULT|DIAG|FAIL)((?:\s+[a-z_]+=\S*)+)"
                  r"\s*$")
DIAG_KEYS = ["scenario", "variant", "threads"]
PATH_VARIANT = re.compile(r"^(.+)-vmas(\d+)$")

METHOD = [
    ("Hmean for throughputs (*_per_sec, higher is better), Amean for costs "
    "(lat_*, insn_per_fault: lower is better);"),
    ("CoeffVar = 100 * Stddev (n-1) / Amean; N = measured runs per mode "
    "(warm-up rep 0 discarded)."),
    ("a/b ratio = mean(a) / mean(b) of the table's means, with its 95% CI by "
    "Fieller's theorem (independent samples,"),
    ("  Welch df) and Welch's t-test p, both on the values whose Amean the "
    "mean is (1/x for Hmean), so the CI"),
    "  excludes 1 exactly when p < 0.05.",
    ("paired: geometric mean of the per-repetition ratios a/b over n "
    "repetitions whose runs saw host loads within"),
    (f"  {BUSY_HOST} CPUs of each other, 95% CI from a t interval of the log "
    "ratios, p from ttest_rel on the logs."),
    ("* after a ratio: significant after Holm's correction (family-wise "
    f"alpha {ALPHA}) over all p-values of this report;"),
    "  p columns are unadjusted; comparisons.csv has the Holm-adjusted ones.",
]


# --- statistics --------------------------------------------------------------

def higher_is_better(metric):
    return metric.endswith("_per_sec")


def mean_kind(metric):
    return "Hmean" if higher_is_better(metric) else "Amean"


def table_mean(metric, xs):
    """The table's mean: Hmean for a throughput, Amean for a cost."""
    xs = np.asarray(xs, dtype=float)
    if not higher_is_better(metric):
        return float(np.mean(xs))
    if np.any(xs < 0):
        return math.nan
    if np.any(xs == 0):
        return 0.0
    return float(stats.hmean(xs))


def describe(metric, xs):
    xs = np.asarray(xs, dtype=float)
    n = len(xs)
    amean = float(np.mean(xs))
    sd = float(np.std(xs, ddof=1)) if n > 1 else math.nan
    return {"runs": n, "kind": mean_kind(metric),
            "mean": table_mean(metric, xs), "stddev": sd,
            "coeffvar": 100.0 * sd / amean if amean else math.nan,
            "min": float(np.min(xs)), "max": float(np.max(xs))}


@contextlib.contextmanager
def quiet_scipy():
    """scipy warns on a constant sample; the variances handle it here."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Precision loss",
                                category=RuntimeWarning)
        yield


def fieller(num, den, conf=CONF):
    """Ratio of the arithmetic means num/den of two independent samples.

    Returns {ratio, lo, hi, p, n}: the 95% CI by Fieller's theorem with
    Welch's variances and degrees of freedom, and Welch's t-test p of
    mean(num) == mean(den); the CI excludes 1 exactly when p < 1 - conf.
    lo, hi are -inf, inf when the denominator's mean is not significantly
    away from 0 (the interval is unbounded). None below 2 values a side.
    """
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    if len(num) < 2 or len(den) < 2:
        return None
    mn, md = float(np.mean(num)), float(np.mean(den))
    vn = float(np.var(num, ddof=1)) / len(num)
    vd = float(np.var(den, ddof=1)) / len(den)
    ratio = mn / md if md else math.nan
    n = min(len(num), len(den))
    if vn + vd == 0.0:
        # Two constant samples: equal or infinitely far apart.
        return {"ratio": ratio, "lo": ratio, "hi": ratio, "n": n,
                "p": 1.0 if mn == md else 0.0}
    with quiet_scipy():
        res = stats.ttest_ind(num, den, equal_var=False)
    t = float(stats.t.ppf(0.5 + conf / 2, res.df))
    a = md * md - t * t * vd
    if a <= 0.0:
        lo, hi = -math.inf, math.inf
    else:
        half = math.sqrt(t * t * (vn * a + vd * mn * mn))
        lo, hi = (mn * md - half) / a, (mn * md + half) / a
    return {"ratio": ratio, "lo": lo, "hi": hi, "n": n,
            "p": float(res.pvalue)}


def welch_ratio(metric, a, b):
    """mean(a)/mean(b) with the table's means: Fieller CI, Welch p.

    Hmean(a)/Hmean(b) = Amean(1/b)/Amean(1/a): for a throughput the test
    and the interval work on the reciprocals (time per fault or op).
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if higher_is_better(metric):
        if np.any(a <= 0) or np.any(b <= 0):
            return None
        return fieller(1.0 / b, 1.0 / a)
    return fieller(a, b)


def welch_delta(a, b, conf=CONF):
    """Amean(a) - Amean(b) and the half-width of its Welch CI."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    delta = float(np.mean(a) - np.mean(b))
    if len(a) < 2 or len(b) < 2:
        return delta, math.nan
    se2 = np.var(a, ddof=1) / len(a) + np.var(b, ddof=1) / len(b)
    if se2 == 0:
        return delta, 0.0
    with quiet_scipy():
        res = stats.ttest_ind(a, b, equal_var=False)
    return delta, float(stats.t.ppf(0.5 + conf / 2, res.df) * math.sqrt(se2))


def paired(a, b, conf=CONF):
    """Paired comparison of a and b, dicts rep -> value (> 0).

    The modes of one repetition run back to back, so slow drifts of the host
    hit both alike: ttest_rel of the per-repetition log values, i.e. the
    log ratios log(a/b) against 0 (df = n - 1). Returns {ratio: geometric
    mean of a/b, lo, hi: its CI (exp of the t interval of the mean log
    ratio), p, n}; p None below 2 pairs or with a value <= 0.
    """
    reps = sorted(set(a) & set(b))
    out = {"ratio": math.nan, "lo": math.nan, "hi": math.nan, "p": None,
           "n": len(reps)}
    if not reps or any(a[r] <= 0 or b[r] <= 0 for r in reps):
        return out
    va = np.array([a[r] for r in reps], dtype=float)
    vb = np.array([b[r] for r in reps], dtype=float)
    logs = np.log(va / vb)
    out["ratio"] = float(stats.gmean(va / vb))
    if len(reps) < 2:
        return out
    if np.ptp(logs) <= 1e-12:
        out.update(lo=out["ratio"], hi=out["ratio"],
                   p=1.0 if abs(logs[0]) <= 1e-12 else 0.0)
        return out
    with quiet_scipy():
        res = stats.ttest_rel(np.log(va), np.log(vb))
    ci = res.confidence_interval(conf)
    out.update(lo=math.exp(ci.low), hi=math.exp(ci.high), p=float(res.pvalue))
    return out


def holm(ps):
    """Holm's step-down adjusted p-values, in the order given."""
    m = len(ps)
    adjusted = [math.nan] * m
    running = 0.0
    for rank, i in enumerate(sorted(range(m), key=lambda i: ps[i])):
        running = max(running, min(1.0, (m - rank) * ps[i]))
        adjusted[i] = running
    return adjusted


class Tests:
    """Every p-value of one report (the Holm family) and where it is shown."""

    def __init__(self):
        self.all = []

    def add(self, result, **where):
        if result is not None:
            result.update(where, p_holm=None, significant=False)
            if result["p"] is not None and not math.isnan(result["p"]):
                self.all.append(result)
        return result

    def correct(self):
        adjusted = holm([t["p"] for t in self.all])
        for t, adj in zip(self.all, adjusted):
            t["p_holm"] = adj
            t["significant"] = adj < ALPHA

    def surviving(self):
        return [t for t in self.all if t["significant"]]


# --- parsing -----------------------------------------------------------------

def parse_fields(text):
    return dict(f.split("=", 1) for f in text.split())


class Log:
    """What the logs say: measured results, failures, problems."""

    def __init__(self):
        self.results = []     # dicts with RUNS_COLUMNS keys, rep >= 1
        self.diags = []       # DIAG lines of rep >= 1: run keys + values
        self.runs = []        # every RUN line in order: {"t", "measured"}
        self.warmup = 0       # RESULT lines of rep 0, discarded
        self.failures = []    # FAIL lines, as text
        self.problems = []    # malformed or orphan lines, empty runs


def check_run(fields, keys, modes, kind):
    missing = [k for k in keys if k not in fields]
    if missing:
        raise ValueError(f"{kind} without {', '.join(missing)}")
    if not fields["rep"].isdigit() or not fields["threads"].isdigit():
        raise ValueError(f"{kind} with a bad rep or threads")
    if fields["mode"] not in modes:
        raise ValueError(f"{kind} with unknown mode '{fields['mode']}' "
                         f"(known: {' '.join(modes)})")


def check_result(fields, run):
    missing = [k for k in RESULT_KEYS if k not in fields]
    if missing:
        raise ValueError(f"RESULT without {', '.join(missing)}")
    try:
        value = float(fields["value"])
        int(fields["faults"])
        int(fields["touched"])
    except ValueError:
        raise ValueError(f"RESULT with a non-numeric value, faults or "
                         f"touched: {fields['value']} {fields['faults']} "
                         f"{fields['touched']}") from None
    if not math.isfinite(value):
        raise ValueError(f"RESULT value {fields['value']}")
    if run is None:
        raise ValueError("RESULT before any RUN line")
    for k in ("scenario", "variant", "threads"):
        # The wrapper names its "contended --latency" runs scenario=latency.
        if (k == "scenario" and run[k] == "latency" and
                fields[k] in LATENCY_SCENARIOS and
                fields["metric"].startswith("lat_")):
            continue
        if fields[k] != run[k]:
            raise ValueError(f"RESULT {k}={fields[k]} in a RUN with "
                             f"{k}={run[k]}")


def check_diag(fields, run):
    """A DIAG line: the run's keys and its numeric values."""
    missing = [k for k in DIAG_KEYS if k not in fields]
    if missing:
        raise ValueError(f"DIAG without {', '.join(missing)}")
    if run is None:
        raise ValueError("DIAG before any RUN line")
    values = {}
    for k, v in fields.items():
        if k in DIAG_KEYS:
            continue
        try:
            x = float(v)
        except ValueError:
            raise ValueError(f"DIAG {k}={v} is not a number") from None
        if not math.isfinite(x):
            raise ValueError(f"DIAG {k}={v}")
        values[k] = x
    # Keyed like the RESULT lines of the run (latency runs: by scenario).
    return {"mode": run["mode"], "rep": int(run["rep"]),
            "scenario": run["scenario"], "variant": fields["variant"],
            "threads": fields["threads"], "values": values}


def parse_log(lines, modes=None, source="raw.log", log=None):
    """Parse one log into log (a new Log if None); returns the Log."""
    modes = list(modes or MODES) + [NONE]
    log = log or Log()
    run = None           # fields of the current RUN line
    pending = []         # its results, kept until the next RUN or FAIL
    pending_diag = []    # its DIAG lines
    first_run = len(log.runs)

    def close_run():
        if run is None:
            return
        if not pending:
            log.problems.append(f"{source}: run without results and without "
                                f"FAIL: {run_name(run)}")
        elif run["rep"] == "0":
            log.warmup += len(pending)
        else:
            log.results.extend(pending)
            log.diags.extend(pending_diag)
            log.runs[-1]["measured"] = True

    for lineno, line in enumerate(lines, 1):
        m = LINE.search(line.rstrip("\r\n"))
        if not m:
            continue
        kind = m.group(1)
        try:
            try:
                fields = parse_fields(m.group(2))
            except ValueError:
                raise ValueError("not key=value fields") from None
            if kind == "RUN":
                check_run(fields, RUN_KEYS, modes, kind)
                close_run()
                run, pending, pending_diag = fields, [], []
                log.runs.append({"t": int(fields["t"]) if fields.get(
                    "t", "").isdigit() else None, "measured": False,
                    "first": len(log.runs) == first_run})
            elif kind == "RESULT":
                check_result(fields, run)
                pending.append({"source": source, "rep": int(run["rep"]),
                                "mode": run["mode"],
                                **{k: fields[k] for k in RESULT_KEYS},
                                "run": len(log.runs) - 1})
            elif kind == "DIAG":
                pending_diag.append(check_diag(fields, run))
            else:
                check_run(fields, RUN_KEYS + ["rc"], modes, kind)
                log.failures.append(f"{source}: {m.group(0).strip()}")
                # The failed run's results, if any, do not count.
                if run is not None and all(run[k] == fields[k]
                                           for k in RUN_KEYS):
                    run, pending, pending_diag = None, [], []
        except ValueError as e:
            log.problems.append(f"{source} line {lineno}: {e}: "
                                f"{line.strip()[:120]}")
    close_run()
    return log


def read_host_load(path):
    """host-load.log: [(host time, CPUs busy outside the guest)]."""
    samples = []
    if os.path.exists(path):
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    t, other, _ = (float(x) for x in line.split())
                except ValueError:
                    continue
                samples.append((t, other))
    return samples


def attribute_host_load(log, samples):
    """Give each run (and its results) the host's other load during it.

    A run lasts until the next RUN line of the same log; a sample covers
    the 2 s before its time stamp. Runs without a time stamp or a sample
    get None.
    """
    for i, run in enumerate(log.runs):
        run["load"] = None
        if run["t"] is None or not samples:
            continue
        nxt = (log.runs[i + 1]["t"] if i + 1 < len(log.runs) and
               not log.runs[i + 1]["first"] else None)
        end = nxt if nxt is not None and nxt >= run["t"] else run["t"] + 5
        during = [o for t, o in samples if run["t"] < t <= end + 2]
        if during:
            run["load"] = sum(during) / len(during)
    for r in log.results:
        r["host_load"] = log.runs[r["run"]]["load"]


def busy(load):
    return load is not None and load > BUSY_HOST


def same_conditions(load_a, load_b):
    if load_a is None or load_b is None:
        return load_a is None and load_b is None
    return abs(load_a - load_b) <= BUSY_HOST


def host_load_lines(samples, log, host_cpus):
    """What else the host ran during the guest run, in numbers."""
    if not samples:
        return []
    others = [o for _, o in samples]
    out = [(f"host load: besides the guest, the host's {host_cpus} CPUs were "
           f"busy with {sum(others) / len(others):.2f} CPUs of other work on "
           f"average (max {max(others):.2f}); more than {BUSY_HOST} for "
           f"{100.0 * sum(o > BUSY_HOST for o in others) / len(others):.0f}% "
           f"of the {len(others)} samples.")]
    measured = [r for r in log.runs if r["measured"]]
    if any(r["load"] is not None for r in measured):
        n = sum(busy(r["load"]) for r in measured)
        out.append(f"{n} of {len(measured)} measured runs overlapped other "
                   f"work of more than {BUSY_HOST} CPUs (they count in the "
                   f"means and Welch; paired leaves out a repetition whose "
                   f"two runs saw loads more than {BUSY_HOST} CPUs apart).")
    return out


def run_name(f):
    return " ".join(f"{k}={f[k]}" for k in RUN_KEYS)


def read_meta(path):
    """meta.txt: {key: value} in file order, keys lower case."""
    meta = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                key, sep, value = line.partition(":")
                if sep and key.strip():
                    meta[key.strip().lower()] = value.strip()
    return meta


def meta_list(meta, key, default):
    """A list from meta.txt (space or comma separated), or the default."""
    items = [x for x in re.split(r"[\s,]+", meta.get(key, "")) if x]
    return items or list(default)


class Results:
    """One results directory: its metadata, logs and results."""

    def __init__(self, path):
        self.path = path
        self.meta = read_meta(os.path.join(path, "meta.txt"))
        self.modes = [m for m in meta_list(self.meta, "modes", MODES)
                      if m != NONE]
        self.scenarios = meta_list(self.meta, "scenarios", SCENARIOS)
        self.log = Log()
        self.host_load = read_host_load(os.path.join(path, "host-load.log"))
        self.sources = []
        for name in LOGS:
            p = os.path.join(path, name)
            if os.path.exists(p):
                self.sources.append(name)
                sub = Log()
                with open(p, encoding="utf-8", errors="replace") as f:
                    parse_log(f, self.modes, name, sub)
                attribute_host_load(sub, self.host_load)
                self.merge(sub)
        self.df = frame(self.log.results)

    def merge(self, sub):
        offset = len(self.log.runs)
        for r in sub.results:
            r["run"] += offset
        self.log.results += sub.results
        self.log.diags += sub.diags
        self.log.runs += sub.runs
        self.log.warmup += sub.warmup
        self.log.failures += sub.failures
        self.log.problems += sub.problems

    def bad(self):
        return bool(self.log.failures or self.log.problems or
                    not self.log.results)


def frame(results):
    df = pd.DataFrame(results, columns=RUNS_COLUMNS)
    df["value"] = df["value"].astype(float)
    df["rep"] = df["rep"].astype(int)
    df["threads"] = df["threads"].astype(int)
    return df


# --- analysis ----------------------------------------------------------------

def order(value, known):
    return (known.index(value), "") if value in known else (len(known), value)


def variant_key(variant):
    m = PATH_VARIANT.match(variant)
    if m:
        return (order(m.group(1), PATH_CASES), int(m.group(2)))
    return (order(variant, VARIANTS), 0)


def block_key(k, scenarios):
    scenario, variant, threads, metric = k
    return (order(scenario, scenarios), variant_key(variant), int(threads),
            order(metric, METRICS))


def mode_order(modes):
    return [NONE] + list(modes)


def pairs_for(present, modes):
    """The a/b comparisons among the modes present."""
    pairs = [(a, b) for a, b in RATIOS if a in present and b in present]
    if not pairs:
        first = [m for m in mode_order(modes) if m in present][:1]
        pairs = [(m, first[0]) for m in mode_order(modes)
                 if first and m in present and m != first[0]]
    return pairs


def analyse(df, tests, modes, scenarios, path=False):
    """Stats per block and mode, comparisons inside each block.

    Blocks are (scenario, variant, threads, metric). path=True: every mode
    against none, Welch only, with the delta of the Ameans.
    """
    blocks = {}
    if df.empty:
        return blocks
    keys = ["scenario", "variant", "threads", "metric"]
    groups = {k: g for k, g in df.groupby(keys, sort=False)}
    for k in sorted(groups, key=lambda k: block_key(k, scenarios)):
        g = groups[k]
        metric = k[3]
        samples = {m: g2["value"].to_numpy() for m, g2 in g.groupby("mode")}
        by_rep = {m: {int(r.rep): (r.value, r.host_load)
                      for r in g2.itertuples()}
                  for m, g2 in g.groupby("mode")}
        stats_ = {m: describe(metric, xs) for m, xs in samples.items()}
        where = dict(zip(keys, (k[0], k[1], str(k[2]), k[3])))
        comps = {}
        if path:
            pairs = [(m, NONE) for m in modes if m in samples and
                     NONE in samples]
        else:
            pairs = pairs_for(samples, modes)
        for a, b in pairs:
            c = {"welch": tests.add(welch_ratio(metric, samples[a],
                                                samples[b]),
                                    a=a, b=b, test="welch", **where)}
            if path:
                c["delta"] = welch_delta(samples[a], samples[b])
            else:
                ra, rb = by_rep[a], by_rep[b]
                reps = [r for r in ra if r in rb and
                        same_conditions(ra[r][1], rb[r][1])]
                c["paired"] = tests.add(
                    paired({r: ra[r][0] for r in reps},
                           {r: rb[r][0] for r in reps}),
                    a=a, b=b, test="paired", **where)
            comps[(a, b)] = c
        blocks[k] = {"unit": g["unit"].iloc[0], "stats": stats_,
                     "comps": comps}
    return blocks


def split_path(df):
    is_path = df["scenario"] == "path"
    return df[~is_path], df[is_path]


# --- output: numbers ---------------------------------------------------------

def fmt_num(x, width=0, prec=2):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return f"{'-':>{width}}"
    return f"{x:>{width}.{prec}f}"


def fmt_p(p):
    if p is None or math.isnan(p):
        return "-"
    return f"{p:.4f}" if p >= 1e-4 else f"{p:.1e}"


def fmt_ci(t):
    if t is None or math.isnan(t["lo"]):
        return "-"
    if math.isinf(t["lo"]) or math.isinf(t["hi"]):
        return "[unbounded]"
    return f"[{t['lo']:.3f}, {t['hi']:.3f}]"


def fmt_ratio(t):
    """'1.234*': the ratio, * if significant after correction."""
    if t is None or math.isnan(t["ratio"]):
        return "-"
    return f"{t['ratio']:.3f}{'*' if t['significant'] else ' '}"


def write_csvs(d, res, blocks, tests):
    res.df.to_csv(os.path.join(d, "runs.csv"), index=False,
                  float_format="%.4f")
    rows = []
    for (scenario, variant, threads, metric), blk in blocks.items():
        for mode, s in blk["stats"].items():
            rows.append([scenario, variant, mode, threads, metric,
                         blk["unit"], s["runs"], s["kind"], s["mean"],
                         s["stddev"], s["coeffvar"], s["min"], s["max"]])
    pd.DataFrame(rows, columns=SUMMARY_COLUMNS).to_csv(
        os.path.join(d, "summary.csv"), index=False, float_format="%.4f")
    pd.DataFrame([{c: t.get(c) for c in COMPARISON_COLUMNS}
                  for t in tests.all], columns=COMPARISON_COLUMNS).to_csv(
        os.path.join(d, "comparisons.csv"), index=False,
        float_format="%.6g")


def meta_lines(meta):
    if not meta:
        return ["meta.txt:  missing or empty"]
    width = max(len(k) for k in meta) + 2
    return [f"{k + ':':<{width}}{v}" for k, v in meta.items()]


def block_title(scenario, variant, metric, unit, runs):
    name = scenario if variant == "-" else f"{scenario}/{variant}"
    better = "higher" if higher_is_better(metric) else "lower"
    n = f"N={runs.pop()}" if len(runs) == 1 else "N varies, see Runs"
    return (f"{name}  {metric}  [{unit}, {better} is better, "
            f"{mean_kind(metric)}, {n}]")


def format_group(scenario, variant, metric, by_threads, modes):
    """One mmtests-style table: stats rows per threads, then the ratios."""
    first = next(iter(by_threads.values()))
    present = [m for m in mode_order(modes)
               if any(m in b["stats"] for b in by_threads.values())]
    runs = {b["stats"][m]["runs"] for b in by_threads.values()
            for m in b["stats"]}
    out = [block_title(scenario, variant, metric, first["unit"], set(runs))]
    out.append(f"{'':<9}{'T':>3}" + "".join(f"{m:>13}" for m in present))
    rows = [("Min", "min"), (mean_kind(metric), "mean"),
            ("CoeffVar", "coeffvar"), ("Max", "max")]
    if len(runs) > 1:
        rows.insert(0, ("Runs", "runs"))
    for label, key in rows:
        for threads, blk in by_threads.items():
            cells = []
            for m in present:
                s = blk["stats"].get(m)
                if s is None:
                    cells.append("-")
                elif key == "runs":
                    cells.append(str(s["runs"]))
                elif key == "coeffvar" and not math.isnan(s[key]):
                    cells.append(fmt_num(s[key]) + "%")
                else:
                    cells.append(fmt_num(s[key]))
            out.append(f"{label:<9}{threads:>3}" +
                       "".join(f"{c:>13}" for c in cells))
    if any(b["comps"] for b in by_threads.values()):
        out.append(f"{'':<3} {'':<14}{'ratio':>7}  {'95% CI (Fieller)':<17}"
                   f"{'p':>8}  {'n':>3}{'paired':>8}  "
                   f"{'95% CI (log t)':<17}{'p':>8}")
        for threads, blk in by_threads.items():
            for (a, b), c in blk["comps"].items():
                w, pr = c["welch"], c["paired"]
                out.append(
                    f"{threads:>3} {a + '/' + b:<14}{fmt_ratio(w):>8} "
                    f"{fmt_ci(w):<17}{fmt_p(w and w['p']):>8}  "
                    f"{pr['n']:>3}{fmt_ratio(pr):>8} {fmt_ci(pr):<17}"
                    f"{fmt_p(pr['p']):>8}")
    return out


def group_blocks(blocks):
    """(scenario, variant, metric) -> threads -> block, in block order."""
    groups = {}
    for (scenario, variant, threads, metric), blk in blocks.items():
        groups.setdefault((scenario, variant, metric), {})[threads] = blk
    for g in groups.values():
        for t in sorted(g):
            g[t] = g.pop(t)
    return groups


def format_path(blocks, modes):
    """The Path table: per case and N, every mode against none."""
    if not blocks:
        return []
    out = [("Path: instructions per fault (procs: per process, fork to "
            "reaped) by case and number of VMAs (N); none = module not "
            "loaded."),
           ("Amean over the runs, CoeffVar = run-to-run spread; delta = "
           "Amean - Amean(none) in instructions, +- its"),
           ("95% CI half-width (Welch); ratio to none with its Fieller 95% CI "
           "and Welch p; * Holm-significant.")]
    cases = {}
    for (scenario, variant, threads, metric), blk in blocks.items():
        m = PATH_VARIANT.match(variant)
        case, n = (m.group(1), int(m.group(2))) if m else (variant, 0)
        cases.setdefault((case, threads, metric), []).append((n, blk))
    for (case, threads, metric), rows in cases.items():
        unit = rows[0][1]["unit"]
        runs = {s["runs"] for _, b in rows for s in b["stats"].values()}
        tail = f", threads={threads}" if threads != 1 else ""
        nruns = (f"N={runs.pop()} runs" if len(runs) == 1
                 else "runs vary, see summary.csv")
        better = "higher" if higher_is_better(metric) else "lower"
        out += ["", (f"case={case}{tail}  {metric}  [{unit}, {better} is "
                     f"better, {mean_kind(metric)}, {nruns}]"),
                (f"{'VMAs':>6}  {'mode':<7}{'Amean':>11}{'CoeffVar':>10}"
                f"{'delta':>11}{'+-':>8}{'ratio':>9}  "
                f"{'95% CI (Fieller)':<17}{'p':>8}")]
        for n, blk in rows:
            for mode in mode_order(modes):
                s = blk["stats"].get(mode)
                if s is None:
                    continue
                cv = ("-" if math.isnan(s["coeffvar"]) else
                      f"{s['coeffvar']:.2f}%")
                line = (f"{n:>6}  {mode:<7}{fmt_num(s['mean'], 11, 1)}"
                        f"{cv:>10}")
                c = blk["comps"].get((mode, NONE))
                if c:
                    d, half = c["delta"]
                    w = c["welch"]
                    line += (f"{d:>+11.1f}{fmt_num(half, 8, 1)}"
                             f"{fmt_ratio(w):>10} {fmt_ci(w):<17}"
                             f"{fmt_p(w and w['p']):>8}")
                out.append(line.rstrip())
            out.append("")
        out.pop()
    return out


def diag_tables(diags):
    """(run scenario, variant) -> (key, threads) -> mode -> mean."""
    acc = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for d in diags:
        for key, v in d["values"].items():
            acc[(d["scenario"], d["variant"])][(key, int(d["threads"]))][
                d["mode"]].append(v)
    return {dk: {kt: {m: sum(vs) / len(vs) for m, vs in by_mode.items()}
                 for kt, by_mode in sorted(keys.items())}
            for dk, keys in acc.items()}


def format_diag(dk, table, modes):
    scenario, variant = dk
    name = "contended --latency" if scenario == "latency" else scenario
    present = [m for m in mode_order(modes)
               if any(m in v for v in table.values())]
    out = [(f"where the time went: {name} variant={variant} "
           f"(DIAG, mean per mode, not compared)")]
    out.append(f"{'':<26}{'T':>3}" + "".join(f"{m:>12}" for m in present))
    for (key, threads), by_mode in table.items():
        cells = [f"{by_mode[m]:.3f}" if m in by_mode else "-"
                 for m in present]
        out.append(f"{key:<26}{threads:>3}" +
                   "".join(f"{c:>12}" for c in cells))
    return out


def where(t):
    name = t["scenario"] if t["variant"] == "-" else \
        f"{t['scenario']}/{t['variant']}"
    return f"{name} T={t['threads']} {t['metric']} {t['a']}/{t['b']}"


def format_survivors(tests, what="report"):
    out = [(f"Significant after Holm's correction over the {len(tests.all)} "
            f"p-values of this {what} (family-wise alpha {ALPHA}): "
            f"{len(tests.surviving())}")]
    for t in tests.surviving():
        out.append(f"  {where(t):<58} {t['test']:<6} {t['ratio']:.3f} "
                   f"{fmt_ci(t)} p={fmt_p(t['p'])} Holm p="
                   f"{fmt_p(t['p_holm'])}")
    return out


def problem_lines(log, what="raw.log"):
    if not (log.failures or log.problems):
        return []
    n = len(log.failures)
    out = [(f"!!! {n} FAILED RUN{'S' if n != 1 else ''} AND "
           f"{len(log.problems)} PROBLEM"
           f"{'S' if len(log.problems) != 1 else ''}"
           f" IN {what}: THESE RESULTS ARE INCOMPLETE !!!")]
    out += [f"FAIL: {f}" for f in log.failures]
    out += [f"PROBLEM: {p}" for p in log.problems]
    return out + [""]


def format_report(res, blocks, path_blocks, tests):
    log = res.log
    out = [f"vmashadow bench report: {res.path}", ""]
    out += meta_lines(res.meta) + [""]
    load = host_load_lines(res.host_load, log,
                           res.meta.get("host cpus", "unknown"))
    if load:
        out += load + [""]
    out += problem_lines(log, " and ".join(res.sources))
    out.append(f"Inputs: {', '.join(res.sources)}; repetition 0 is warm-up "
               f"and was discarded ({log.warmup} result lines); "
               f"{len(log.results)} measured result lines remain.")
    out += METHOD
    if not blocks and not path_blocks:
        out += ["", "NO MEASURED RESULTS."]
    diags = diag_tables(log.diags)
    groups = group_blocks(blocks)
    shown = set()
    scenarios = []
    for scenario, variant, _ in groups:
        if (scenario, variant) not in scenarios:
            scenarios.append((scenario, variant))
    for scenario, variant in scenarios:
        for (s, v, metric), by_threads in groups.items():
            if (s, v) == (scenario, variant):
                out.append("")
                out += format_group(s, v, metric, by_threads, res.modes)
        run_scenarios = [scenario] + (["latency"] if scenario == "contended"
                                      else [])
        for dk in diags:
            if dk[0] in run_scenarios and dk[1] == variant:
                out.append("")
                out += format_diag(dk, diags[dk], res.modes)
                shown.add(dk)
    for dk in diags:
        if dk not in shown and dk[0] != "path":
            out.append("")
            out += format_diag(dk, diags[dk], res.modes)
    if path_blocks:
        out.append("")
        out += format_path(path_blocks, res.modes)
    out += [""] + format_survivors(tests)
    return "\n".join(out) + "\n"


# --- figures -----------------------------------------------------------------

COLORS = {"none": "#000000", "stock": "#777777", "mmap": "#d62728",
          "pervma": "#1f77b4", "shadow": "#2ca02c"}


def pyplot(path):
    if os.environ.get("VMASHADOW_PLOTS") == "0":
        # make bench-host-test: matplotlib under TCG takes most of an hour.
        print(f"bench-report: VMASHADOW_PLOTS=0: {path} not written",
              file=sys.stderr)
        return None
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        print(f"bench-report: WARNING: no matplotlib ({e}): {path} not "
              f"written; everything else was.", file=sys.stderr)
        return None
    return plt


def plot_threads(scenario, threads_present):
    want = DEFAULT_THREADS.get(scenario, 2)
    return want if want in threads_present else min(threads_present)


def title(meta):
    return (f"kernel {meta.get('kernel', 'unknown')}, "
            f"{meta.get('accel', 'unknown accel')}, "
            f"{meta.get('vcpus', '?')} vCPUs, git {meta.get('git', '?')}")


def write_plot(path, meta, blocks, modes):
    groups = {k: v for k, v in group_blocks(blocks).items()
              if higher_is_better(k[2])}
    if not groups:
        return False
    plt = pyplot(path)
    if plt is None:
        return False
    fig, ax_iter = subplot_grid(plt, len(groups), 3, 5, 3.6)
    for (scenario, variant, metric), by_threads in groups.items():
        ax = next(ax_iter)
        name = scenario if variant == "-" else f"{scenario}/{variant}"
        if len(by_threads) > 1:
            plot_lines(ax, by_threads, modes)
            ax.set_title(f"{name}: {metric} vs threads", fontsize=9)
        else:
            threads = plot_threads(scenario, list(by_threads))
            plot_bars(ax, by_threads[threads], modes)
            ax.set_title(f"{name}, threads={threads}\n{metric} "
                         f"(x = vs stock)", fontsize=9)
        ax.set_ylabel(next(iter(by_threads.values()))["unit"])
    for ax in ax_iter:
        ax.set_visible(False)
    fig.suptitle(f"vmashadow benches: {title(meta)} (Hmean, error bars: "
                 f"stddev)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def plot_bars(ax, blk, modes):
    present = [m for m in mode_order(modes) if m in blk["stats"]]
    h = [blk["stats"][m]["mean"] for m in present]
    sd = [0.0 if math.isnan(blk["stats"][m]["stddev"])
          else blk["stats"][m]["stddev"] for m in present]
    ax.bar(present, h, yerr=sd, capsize=4,
           color=[COLORS.get(m, "#9467bd") for m in present])
    stock = blk["stats"].get("stock", {}).get("mean")
    if stock:
        for i, (v, e) in enumerate(zip(h, sd)):
            ax.annotate(f"{v / stock:.2f}x", (i, v + e), ha="center",
                        va="bottom", fontsize=8, xytext=(0, 3),
                        textcoords="offset points")
    tops = [v + e for v, e in zip(h, sd) if math.isfinite(v + e)]
    if tops and max(tops) > 0:
        ax.set_ylim(0, max(tops) * 1.15)


def subplot_grid(plt, n, max_cols, width, height):
    """A figure of n panels, at most max_cols a row; returns it and an
    iterator over its axes in order."""
    cols = min(max_cols, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows),
                             squeeze=False)
    return fig, iter(axes.flat)


def plot_modes(ax, by_x, modes):
    """One line per mode through its means at each x, stddev as error bars."""
    for m in mode_order(modes):
        xs = [x for x in sorted(by_x) if m in by_x[x]["stats"]]
        if not xs:
            continue
        st = [by_x[x]["stats"][m] for x in xs]
        ax.errorbar(xs, [s["mean"] for s in st],
                    yerr=[0.0 if math.isnan(s["stddev"]) else s["stddev"]
                          for s in st],
                    marker="o", capsize=3, label=m,
                    color=COLORS.get(m, "#9467bd"))


def plot_lines(ax, by_threads, modes):
    plot_modes(ax, by_threads, modes)
    ax.set_xticks(sorted(by_threads))
    ax.set_ylim(bottom=0)
    ax.set_xlabel("threads")
    ax.legend(fontsize=8)


def write_path_plot(path, meta, blocks, modes):
    if not blocks:
        return False
    plt = pyplot(path)
    if plt is None:
        return False
    cases = {}
    for (_, variant, threads, metric), blk in blocks.items():
        m = PATH_VARIANT.match(variant)
        if m:
            cases.setdefault((m.group(1), threads, metric), {})[
                int(m.group(2))] = blk
    if not cases:
        return False
    fig, ax_iter = subplot_grid(plt, len(cases), 2, 6, 4)
    for (case, threads, metric), by_n in cases.items():
        ax = next(ax_iter)
        ns = sorted(by_n)
        plot_modes(ax, by_n, modes)
        ax.set_xscale("log")
        ax.minorticks_off()
        ax.set_xticks(ns)
        ax.set_xticklabels([str(n) for n in ns])
        ax.set_xlabel("VMAs in the process (N)")
        ax.set_ylabel(by_n[ns[0]]["unit"] + " per fault")
        tail = f", threads={threads}" if threads != 1 else ""
        ax.set_title(f"path case={case}{tail}: {metric}", fontsize=9)
        ax.legend(fontsize=8)
    for ax in ax_iter:
        ax.set_visible(False)
    fig.suptitle(f"vmashadow fault path: {title(meta)} (Amean, error bars: "
                 f"stddev)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


# --- main --------------------------------------------------------------------

class UsageError(Exception):
    pass


def load(d):
    if not os.path.isdir(d):
        raise UsageError(f"{d}: no such results directory")
    if not any(os.path.isfile(os.path.join(d, n)) for n in LOGS):
        raise UsageError(f"{d}: holds neither raw.log nor path-raw.log "
                         f"(not a results directory of make bench?)")
    try:
        return Results(d)
    except OSError as e:
        raise UsageError(f"{d}: {e}") from None


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
    write_plot(os.path.join(results_dir, "bench.png"), res.meta, blocks,
               res.modes)
    write_path_plot(os.path.join(results_dir, "path.png"), res.meta,
                    path_blocks, res.modes)
    sys.stdout.write(text)
    if res.bad():
        print(f"bench-report: {len(res.log.failures)} failed runs, "
              f"{len(res.log.problems)} problems, {len(res.log.results)} "
              f"results: see {os.path.join(results_dir, 'report.txt')}",
              file=sys.stderr)
    return (1 if res.bad() else 0), {"blocks": blocks, "path": path_blocks,
                                     "tests": tests, "text": text}


# --- compare -----------------------------------------------------------------

def compare_meta(a, b):
    keys = list(a.meta) + [k for k in b.meta if k not in a.meta]
    out = [f"{'':<16}A: {a.path}", f"{'':<16}B: {b.path}"]
    for k in keys:
        va, vb = a.meta.get(k, "-"), b.meta.get(k, "-")
        if len(va) <= 36 and len(vb) <= 36:
            mark = "" if va == vb else "  (differs)"
            out.append(f"{k + ':':<16}{va:<38}{vb}{mark}".rstrip())
        elif va == vb:
            out.append(f"{k + ':':<16}A=B: {va}")
        else:
            out.append(f"{k + ':':<16}A: {va}")
            out.append(f"{'':<16}B: {vb}")
    return out


def compare(dir_a, dir_b):
    """B against A, same scenario/variant/threads/metric/mode."""
    a, b = load(dir_a), load(dir_b)
    modes = list(dict.fromkeys(a.modes + b.modes))
    scenarios = list(dict.fromkeys(a.scenarios + b.scenarios))
    tests = Tests()
    keys = ["scenario", "variant", "threads", "metric", "mode"]
    ga = {k: g["value"].to_numpy() for k, g in a.df.groupby(keys)}
    gb = {k: g["value"].to_numpy() for k, g in b.df.groupby(keys)}
    units = {k[:4]: u for k, u in
             pd.concat([a.df, b.df]).groupby(keys)["unit"].first().items()}
    common = sorted(set(ga) & set(gb), key=lambda k: (
        block_key(k[:4], scenarios), order(k[4], mode_order(modes))))
    rows = defaultdict(list)    # (scenario, variant, metric) -> rows
    for k in common:
        scenario, variant, threads, metric, mode = k
        sa, sb = describe(metric, ga[k]), describe(metric, gb[k])
        t = tests.add(welch_ratio(metric, gb[k], ga[k]), a="B", b="A",
                      test="welch", scenario=scenario, variant=variant,
                      threads=str(threads), metric=f"{metric} {mode}")
        rows[(scenario, variant, metric)].append((threads, mode, sa, sb, t))
    tests.correct()
    out = ["vmashadow bench comparison: B against A", ""]
    out += compare_meta(a, b) + [""]
    out += problem_lines(a.log, f"A ({dir_a})")
    out += problem_lines(b.log, f"B ({dir_b})")
    only_a, only_b = len(set(ga) - set(gb)), len(set(gb) - set(ga))
    out.append(f"{len(common)} scenario/variant/threads/metric/mode "
               f"combinations in both; {only_a} only in A, {only_b} only in "
               f"B (not shown).")
    out += [("Means: Hmean for *_per_sec (higher is better), Amean otherwise "
            "(lower is better); CoeffVar in %."),
            ("B/A = mean(B) / mean(A), 95% CI by Fieller's theorem and "
            "Welch's p on the values whose Amean the mean"),
            ("is (1/x for Hmean); runs of two boots do not pair. * after B/A: "
            "significant after Holm's correction"),
            (f"over all {len(tests.all)} p-values of this comparison "
            f"(family-wise alpha {ALPHA}).")]
    for (scenario, variant, metric), rs in rows.items():
        name = scenario if variant == "-" else f"{scenario}/{variant}"
        better = "higher" if higher_is_better(metric) else "lower"
        unit = units[(scenario, variant, rs[0][0], metric)]
        out += ["", (f"{name}  {metric}  [{unit}, {better} is better, "
                f"{mean_kind(metric)}]"),
                (f"{'T':>3} {'mode':<7}{'A':>13}{'N':>4}{'CV%':>7}"
                f"{'B':>13}{'N':>4}{'CV%':>7}{'B/A':>9}  "
                f"{'95% CI (Fieller)':<17}{'p':>8}")]
        for threads, mode, sa, sb, t in rs:
            out.append(f"{threads:>3} {mode:<7}{fmt_num(sa['mean'], 13)}"
                       f"{sa['runs']:>4}{fmt_num(sa['coeffvar'], 7)}"
                       f"{fmt_num(sb['mean'], 13)}{sb['runs']:>4}"
                       f"{fmt_num(sb['coeffvar'], 7)}{fmt_ratio(t):>10} "
                       f"{fmt_ci(t):<17}{fmt_p(t and t['p']):>8}")
    out += [""] + format_survivors(tests, "comparison")
    text = "\n".join(out) + "\n"
    sys.stdout.write(text)
    bad = a.bad() or b.bad() or not common
    if bad:
        print(f"bench-report: A: {len(a.log.failures)} failed runs, "
              f"{len(a.log.problems)} problems; B: {len(b.log.failures)} "
              f"failed runs, {len(b.log.problems)} problems; {len(common)} "
              f"combinations in both", file=sys.stderr)
    return (1 if bad else 0), {"rows": rows, "tests": tests, "text": text}


def usage():
    doc = __doc__.strip().split("\n\n")[1]
    print(doc, file=sys.stderr)
    return 2


def main(argv):
    args = argv[1:]
    try:
        if args == ["--self-test"]:
            return self_test()
        if args[:1] == ["--compare"]:
            if len(args) != 3:
                return usage()
            return compare(args[1], args[2])[0]
        if args[:1] == ["--synth"]:
            if len(args) not in (2, 3) or (len(args) == 3 and
                                           not args[2].isdigit()):
                return usage()
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


# --- synthetic data ----------------------------------------------------------

def synth_meta(d, extra=""):
    with open(os.path.join(d, "meta.txt"), "w") as f:
        f.write("date: 2026-11-29T20:00:00Z\n"
                "git: 822fb66-dirty\n"
                "config: perf (perf-0123abcd): tinyconfig + common.config + "
                "perf.config\n"
                "host cpu model: AMD EPYC 7B13 64-Core Processor\n"
                "host memory: 24 GiB\n"
                "kernel: 7.3.4-vmashadow #1 SMP PREEMPT_DYNAMIC\n"
                "cpu: AMD EPYC 7B13 64-Core Processor\n"
                "vcpus: 4\n"
                "memory: 8123456 kB\n"
                "runs: 12 (plus one warm-up)\n"
                "seconds: 1\n" + extra +
                "host cpus: 8\n")


# Realistic figures for a 4-vCPU KVM guest: (base at 1 thread, scaling
# exponent, per-mode factors, CoeffVar).
REALISTIC = {
    ("contended", "munmap", "faults_per_sec"):
        (410000, 0.92, {"mmap": 0.62, "pervma": 1.0, "shadow": 1.01}, 0.03),
    ("contended", "munmap", "writer_ops_per_sec"):
        (52000, -0.1, {"mmap": 0.81, "pervma": 0.99, "shadow": 0.97}, 0.04),
    ("contended", "mprotect", "faults_per_sec"):
        (395000, 0.9, {"mmap": 0.41, "pervma": 1.0, "shadow": 1.0}, 0.03),
    ("contended", "mprotect", "writer_ops_per_sec"):
        (21000, -0.2, {"mmap": 0.55, "pervma": 1.0, "shadow": 0.98}, 0.05),
    ("uncontended", "-", "faults_per_sec"):
        (520000, 0.0, {"mmap": 1.0, "pervma": 1.0, "shadow": 0.995}, 0.02),
    ("kernel-faults", "munmap", "faults_per_sec"):
        (300000, 0.9, {"stock": 0.8, "mmap": 0.78, "shadow": 1.0}, 0.04),
    ("kernel-faults", "mprotect", "faults_per_sec"):
        (290000, 0.9, {"stock": 0.45, "mmap": 0.44, "shadow": 1.01}, 0.04),
    ("scale", "-", "faults_per_sec"):
        (505000, 0.95, {"mmap": 0.97, "pervma": 1.0, "shadow": 1.0}, 0.02),
    ("churn", "-", "faults_per_sec"):
        (180000, 0.0, {"mmap": 1.0, "pervma": 1.0, "shadow": 0.96}, 0.03),
    ("churn", "vmas256", "faults_per_sec"):
        (176000, 0.0, {"mmap": 1.0, "pervma": 1.0, "shadow": 0.95}, 0.03),
    ("page_fault1", "threads", "ops_per_task_per_sec"):
        (450000, -0.25, {"mmap": 0.9, "shadow": 1.0}, 0.03),
    ("page_fault1", "processes", "ops_per_task_per_sec"):
        (470000, -0.02, {"shadow": 1.0}, 0.02),
    ("page_fault2", "threads", "ops_per_task_per_sec"):
        (380000, -0.2, {"mmap": 0.92, "shadow": 1.0}, 0.03),
    ("page_fault2", "processes", "ops_per_task_per_sec"):
        (395000, -0.02, {"shadow": 1.0}, 0.02),
    ("page_fault3", "threads", "ops_per_task_per_sec"):
        (900000, -0.3, {"mmap": 0.85, "shadow": 1.0}, 0.03),
    ("page_fault3", "processes", "ops_per_task_per_sec"):
        (950000, -0.02, {"shadow": 1.0}, 0.02),
    ("pft", "-", "faults_per_sec"):
        (600000, 0.8, {"mmap": 0.9, "shadow": 1.0}, 0.03),
    ("latency", "mprotect", "lat_p50_ns"):
        (1900, 0.05, {"mmap": 1.3, "pervma": 1.0, "shadow": 0.99}, 0.04),
    ("latency", "mprotect", "lat_p99_ns"):
        (5200, 0.1, {"mmap": 14.0, "pervma": 1.0, "shadow": 1.0}, 0.10),
    ("latency", "mprotect", "lat_max_ns"):
        (90000, 0.2, {"mmap": 30.0, "pervma": 1.0, "shadow": 1.0}, 0.40),
}
PATH_BASE = {"user": 1480, "kernel": 1930, "newvma": 2650, "churn": 5300}
PATH_EXTRA = {"none": 0, "stock": 9, "mmap": 38, "pervma": 22, "shadow": 31}


def synth_path_insn(case, n, mode):
    """Instructions per fault: base, maple-tree depth, the mode's own."""
    depth = max(1, math.ceil(math.log(n + 1, 16)))
    insn = PATH_BASE[case] + 24 * depth + PATH_EXTRA[mode]
    if mode == "shadow":
        insn += 11 * depth                   # the index is a maple tree too
        insn += {"newvma": 340, "churn": 54}.get(case, 0)   # fill, forget
    return insn


def synth_realistic(d, seed=1, reps=12, threads=(1, 2, 4)):
    """A results directory as make bench would leave it, with noise."""
    rnd = random.Random(seed)
    synth_meta(d, "accel: KVM\ncounter: perf instructions:u+k\n"
               "modes: stock mmap pervma shadow\n"
               "scenarios: contended uncontended kernel-faults latency scale "
               "churn page_fault1 page_fault2 page_fault3 pft path\n")
    configs = []
    for (sc, var, _) in REALISTIC:
        if any(c[:2] == (sc, var) for c in configs):
            continue
        for t in ((1,) if sc in ("uncontended", "churn") else threads):
            configs.append((sc, var, t))
    t0 = 1_000_000
    with open(os.path.join(d, "raw.log"), "w") as f:
        for rep in range(reps + 1):
            drift = rnd.lognormvariate(0, 0.02)    # the host, per rep
            for sc, var, t in configs:
                for i in range(4):
                    mode = MODES[(rep + i) % 4]
                    t0 += 2
                    f.write(f"RUN rep={rep} mode={mode} scenario={sc} "
                            f"variant={var} threads={t} t={t0}\n")
                    for (s2, v2, metric), (base, exp_, fac, cv) in \
                            REALISTIC.items():
                        if (s2, v2) != (sc, var):
                            continue
                        v = (base * t ** exp_ * fac.get(mode, 1.0) *
                             rnd.lognormvariate(0, cv))
                        v = v / drift if higher_is_better(metric) else \
                            v * drift
                        rsc = "contended" if sc == "latency" else sc
                        unit = ("ns" if metric.startswith("lat_") else
                                "ops/s" if "ops" in metric else "faults/s")
                        f.write(f"RESULT scenario={rsc} variant={var} "
                                f"threads={t} metric={metric} unit={unit} "
                                f"value={v:.2f} faults={int(v)} "
                                f"touched={int(v)}\n")
                    if sc in ("contended", "kernel-faults"):
                        sleeps = (rnd.uniform(20, 60) if mode == "mmap" or
                                  (sc == "kernel-faults" and mode == "stock")
                                  else 0.0)
                        f.write(f"DIAG scenario={sc} variant={var} "
                                f"threads={t} sleeps_per_kfault={sleeps:.3f} "
                                f"vmstat_vma_lock_success="
                                f"{0 if mode == 'mmap' else 999.1:.3f}\n")
                    f.write(f"STATS mode={mode} hits 1000 misses 0\n")
    modes = [NONE] + MODES
    with open(os.path.join(d, "path-raw.log"), "w") as f:
        for rep in range(reps + 1):
            for case in PATH_BASE:           # the fault cases
                for n in (1, 256, 4096, 65536):
                    for i in range(len(modes)):
                        mode = modes[(rep + i) % len(modes)]
                        t0 += 1
                        f.write(f"RUN rep={rep} mode={mode} scenario=path "
                                f"variant={case}-vmas{n} threads=1 t={t0}\n")
                        v = synth_path_insn(case, n, mode) * \
                            rnd.lognormvariate(0, 0.002)
                        f.write(f"RESULT scenario=path variant={case}-vmas{n} "
                                f"threads=1 metric=insn_per_fault unit=insn "
                                f"value={v:.1f} faults=100000 "
                                f"touched=100000\n")
    with open(os.path.join(d, "host-load.log"), "w") as f:
        for t in range(1_000_000, t0 + 4, 2):
            f.write(f"{t}.0 {rnd.uniform(0, 0.08):.2f} 3.95\n")


# --- self-test ---------------------------------------------------------------

# Measured reps 1..5 per (scenario, variant, threads, metric, mode).
SYNTH = {
    ("contended", "munmap", 2, "faults_per_sec"): {
        "stock": [100, 101, 99, 100, 100], "mmap": [50, 51, 49, 50, 50],
        "pervma": [100, 102, 98, 101, 99], "shadow": [120, 121, 119, 120, 120]},
    ("contended", "munmap", 2, "writer_ops_per_sec"): {
        "stock": [10, 12, 8, 11, 9], "mmap": [10, 11, 9, 10, 10],
        "pervma": [10, 12, 8, 9, 11], "shadow": [11, 9, 12, 8, 10]},
    ("contended", "munmap", 2, "lat_p50_ns"): {
        "stock": [1000, 1010, 990, 1000, 1000], "mmap": [2000] * 5,
        "pervma": [1000, 1005, 995, 1000, 1000],
        "shadow": [800, 810, 790, 800, 800]},
    # A host whose speed drifts between repetitions: shadow is 10% faster
    # than stock inside each one, which only the paired test can see.
    ("contended", "mprotect", 2, "faults_per_sec"): {
        "stock": [100, 200, 50, 150, 80], "mmap": [50, 100, 25, 75, 40],
        "pervma": [101, 199, 51, 149, 80], "shadow": [110, 221, 55, 164, 88]},
    ("contended", "mprotect", 2, "writer_ops_per_sec"): {
        m: [10, 11, 9, 10, 10] for m in MODES},
    ("uncontended", "-", 1, "faults_per_sec"): {
        "stock": [100, 110, 90, 105, 95], "mmap": [100, 110, 90, 105, 95],
        "pervma": [100, 110, 90, 105, 95], "shadow": [101, 109, 91, 104, 96]},
    ("scale", "-", 1, "faults_per_sec"): {
        m: [100, 101, 99, 100, 100] for m in MODES},
    ("scale", "-", 2, "faults_per_sec"): {
        "stock": [190, 191, 189, 190, 190], "mmap": [120, 121, 119, 120, 120],
        "pervma": [190, 192, 188, 190, 190],
        "shadow": [195, 196, 194, 195, 195]},
    ("page_fault1", "threads", 2, "ops_per_task_per_sec"): {
        m: [300, 310, 290, 300, 300] for m in MODES},
    ("contended", "munmap", 1, "faults_per_sec"): {
        "stock": [60, 61, 59, 60, 60], "mmap": [40, 41, 39, 40, 40],
        "pervma": [60, 62, 58, 61, 59], "shadow": [61, 60, 62, 59, 60]},
    ("contended", "munmap", 1, "lat_p50_ns"): {
        m: [900, 910, 890, 900, 900] for m in MODES},
}
# path-raw.log: (case, N) -> mode -> reps 1..5.
SYNTH_PATH = {
    ("user", 1): {"none": [1000, 1001, 999, 1000, 1000],
                  "stock": [1010, 1011, 1009, 1010, 1010],
                  "shadow": [1100, 1101, 1099, 1100, 1100]},
    ("user", 4096): {"none": [1050, 1051, 1049, 1050, 1050],
                     "stock": [1060, 1061, 1059, 1060, 1060],
                     "shadow": [1050, 1052, 1048, 1051, 1049]},
}


def synth_log(path, fail):
    with open(path, "w") as f:
        f.write("booting...\n[    1.234] random kernel line\n")
        for rep in range(6):
            seen = []
            for (sc, var, thr, metric) in SYNTH:
                if metric not in ("faults_per_sec", "lat_p50_ns",
                                  "ops_per_task_per_sec"):
                    continue    # written together with faults_per_sec
                # As scripts/guest-bench.sh names its latency runs.
                run_sc = "latency" if metric == "lat_p50_ns" else sc
                for mode in MODES:
                    run = (f"rep={rep} mode={mode} scenario={run_sc} "
                           f"variant={var} threads={thr}")
                    # 36 runs a rep, 2 s each, 72 s between reps, from t=1000
                    t = 1000 + 2 * (36 * rep + len(seen))
                    seen.append(run)
                    f.write(f"RUN {run} t={t}\n")
                    if fail and rep == 3 and mode == "mmap" and sc == "scale":
                        f.write(f"FAIL {run} rc=1\n")
                        continue
                    f.write(f"# {sc} variant={var}: a comment\n")
                    metrics = [metric]
                    if metric == "faults_per_sec" and sc == "contended" and \
                            (sc, var, thr, "writer_ops_per_sec") in SYNTH:
                        metrics.append("writer_ops_per_sec")
                    for m in metrics:
                        # rep 0 is absurd: if it were kept, means would move.
                        v = (1e9 if rep == 0 else
                             SYNTH[(sc, var, thr, m)][mode][rep - 1])
                        unit = {"faults_per_sec": "faults/s"}.get(
                            m, "ns" if m.startswith("lat_") else "ops/s")
                        # Guest output may come prefixed by the runner.
                        pre = "# " if rep == 2 else ""
                        f.write(f"{pre}RESULT scenario={sc} variant={var} "
                                f"threads={thr} metric={m} unit={unit} "
                                f"value={v:.2f} faults=1000 touched=1000\n")
                    # One sleep per 1000 faults per rep in mmap, none else.
                    sleeps = rep if mode == "mmap" else 0
                    f.write(f"DIAG scenario={sc} variant={var} threads={thr} "
                            f"sleeps_per_kfault={sleeps}.000\n")
                    f.write("STATS hits 10 misses 0\n")


def synth_path_log(path):
    with open(path, "w") as f:
        for rep in range(6):
            for (case, n), by_mode in SYNTH_PATH.items():
                for mode, vs in by_mode.items():
                    var = f"{case}-vmas{n}"
                    f.write(f"RUN rep={rep} mode={mode} scenario=path "
                            f"variant={var} threads=1\n")
                    v = 1e6 if rep == 0 else vs[rep - 1]
                    f.write(f"RESULT scenario=path variant={var} threads=1 "
                            f"metric=insn_per_fault unit=insn value={v} "
                            f"faults=1000 touched=1000\n")


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, desc):
        self.n += 1
        if not cond:
            self.failed += 1
        print(f"{'ok' if cond else 'not ok'} {self.n} {desc}")
        return cond


def close(a, b, tol):
    return a is not None and abs(a - b) <= tol


def self_test_stats(tap):
    p = paired({1: 2.0, 2: 4.0, 3: 8.0}, {1: 1.0, 2: 2.0, 3: 4.0})
    tap.ok(close(p["ratio"], 2.0, 1e-12) and p["p"] == 0.0 and p["n"] == 3
           and p["lo"] == p["hi"] == p["ratio"],
           "paired: constant ratio 2 -> gm 2, p 0, CI [2, 2]")
    # logs of the ratios 1, e, e^2: mean 1, sd 1, t = sqrt(3), df 2.
    p = paired({1: 1.0, 2: math.e, 3: math.e ** 2, 4: 5.0},
               {1: 1.0, 2: 1.0, 3: 1.0})
    half = 4.302652729911275 / math.sqrt(3)     # t(0.975, 2) * sd / sqrt(n)
    tap.ok(close(p["ratio"], math.e, 1e-12) and p["n"] == 3 and
           close(p["p"], 1 - math.sqrt(3) / math.sqrt(5), 1e-10) and
           close(math.log(p["lo"]), 1 - half, 1e-9) and
           close(math.log(p["hi"]), 1 + half, 1e-9),
           f"paired: unpaired reps ignored, t=sqrt(3) df=2, log-t CI "
           f"(got p={p['p']})")
    tap.ok(paired({1: 1.0}, {1: 2.0})["p"] is None and
           paired({1: 1.0, 2: 0.0}, {1: 2.0, 2: 1.0})["p"] is None,
           "paired: no p for one pair or a zero value")
    w = fieller([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
    tap.ok(close(w["p"], 0.0010528, 2e-6) and close(w["ratio"], 3 / 8, 1e-12),
           f"Welch p ~ 0.00105 for 1..5 vs 6..10 (got {w['p']:.7f})")
    # At either bound the Fieller statistic equals the critical t.
    num, den = np.array([9.0, 11, 10, 12, 8]), np.array([5.0, 6, 4, 5, 5.5])
    w = fieller(num, den)
    vn, vd = np.var(num, ddof=1) / 5, np.var(den, ddof=1) / 5
    df = (vn + vd) ** 2 / (vn ** 2 / 4 + vd ** 2 / 4)
    tc = stats.t.ppf(0.975, df)
    ok = all(close((num.mean() - r * den.mean()) ** 2 /
                   (vn + r * r * vd), tc * tc, 1e-9)
             for r in (w["lo"], w["hi"]))
    tap.ok(ok and w["lo"] < w["ratio"] < w["hi"],
           f"Fieller bounds solve the quadratic: [{w['lo']:.4f}, "
           f"{w['hi']:.4f}] around {w['ratio']:.4f}")
    rnd = random.Random(7)
    agree = 0
    for _ in range(200):
        a = [rnd.gauss(10, 2) for _ in range(6)]
        b = [rnd.gauss(rnd.choice((10, 11, 13)), 2) for _ in range(6)]
        w = fieller(a, b)
        agree += (w["p"] < 0.05) == (not w["lo"] <= 1.0 <= w["hi"])
    tap.ok(agree == 200, f"Fieller CI excludes 1 iff Welch p < 0.05 "
           f"({agree}/200)")
    w = fieller([1, 2, 3], [-1, 0, 1.5])
    tap.ok(math.isinf(w["lo"]) and math.isinf(w["hi"]),
           "Fieller: unbounded when the denominator may be 0")
    tap.ok(fieller([1], [2, 3]) is None, "Fieller/Welch needs 2 values each")
    tap.ok(fieller([2, 2], [2, 2])["p"] == 1.0 and
           fieller([2, 2], [3, 3])["p"] == 0, "Welch on constant samples")
    w = welch_ratio("faults_per_sec", [1, 2, 4], [2, 4, 8])
    tap.ok(close(w["ratio"], 0.5, 1e-12), "Hmean ratio via reciprocals")
    tap.ok(close(table_mean("faults_per_sec", [1, 2, 4]), 12 / 7, 1e-12) and
           close(table_mean("insn_per_fault", [1, 2, 4]), 7 / 3, 1e-12),
           "Hmean(1,2,4) = 12/7 for throughput, Amean for insn_per_fault")
    adj = holm([0.01, 0.04, 0.03, 0.005])
    tap.ok(all(close(x, y, 1e-12) for x, y in
               zip(adj, [0.03, 0.06, 0.06, 0.02])),
           f"Holm: [0.01, 0.04, 0.03, 0.005] -> [0.03, 0.06, 0.06, 0.02] "
           f"(got {adj})")
    tap.ok(holm([0.5, 0.9]) == [1.0, 1.0] and holm([]) == [],
           "Holm: capped at 1, empty family")
    d, h = welch_delta([10, 11, 12], [1, 2, 3])
    tap.ok(close(d, 9.0, 1e-12) and close(h, stats.t.ppf(0.975, 4) *
                                          math.sqrt(2 / 3), 1e-9),
           "delta of Ameans with Welch half-width")


def quiet(fn, *args):
    out = io.StringIO()
    err = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc, state = fn(*args)
    return rc, state, out.getvalue(), err.getvalue()


def self_test_report(tap, d):
    synth_log(os.path.join(d, "raw.log"), fail=False)
    synth_path_log(os.path.join(d, "path-raw.log"))
    synth_meta(d, "accel: TCG\ncounter: perf instructions\n")
    with open(os.path.join(d, "host-load.log"), "w") as f:
        # Busy until t=1168 (see synth_log): reps 0 and 1 and the first 11
        # runs of rep 2, from t=1144 to 1164: 36 + 11 measured runs, and
        # rep 2 of contended/mprotect, whose stock run (t=1160) was busy and
        # shadow run (t=1166) was not.
        f.writelines(f"{t}.0 {1.0 if t < 1168 else 0.0:.2f} 1.90\n"
                     for t in range(1000, 1600, 2))
    rc, st, text, _ = quiet(report, d)
    blocks, tests = st["blocks"], st["tests"]
    tap.ok(rc == 0, f"clean logs: exit 0 (got {rc})")
    key = ("contended", "munmap", 2, "faults_per_sec")
    c = blocks[key]["comps"][("shadow", "stock")]
    want = stats.hmean(SYNTH[key]["shadow"]) / stats.hmean(SYNTH[key]["stock"])
    tap.ok(close(c["welch"]["ratio"], want, 1e-12),
           f"contended shadow/stock ratio of Hmeans {c['welch']['ratio']:.4f}")
    tap.ok(c["welch"]["significant"] and c["welch"]["p_holm"] >= c["welch"]
           ["p"], "contended shadow/stock significant after Holm")
    tap.ok(c["welch"]["lo"] < want < c["welch"]["hi"],
           "ratio inside its CI")
    w = blocks[("contended", "munmap", 2, "writer_ops_per_sec")]
    tap.ok(not w["comps"][("shadow", "stock")]["welch"]["significant"],
           "writer shadow/stock is not significant")
    lat = blocks[("contended", "munmap", 2, "lat_p50_ns")]
    lc = lat["comps"][("shadow", "stock")]["welch"]
    tap.ok(lat["stats"]["shadow"]["runs"] == 5 and
           lat["stats"]["shadow"]["kind"] == "Amean",
           "RUN scenario=latency takes RESULT scenario=contended lat_*, Amean")
    tap.ok(close(lc["ratio"], 800 / 1000, 1e-12) and lc["significant"],
           "latency: ratio of Ameans 0.8, significant")
    tap.ok(re.search(r"^  2 shadow/stock +1\.200\* \[1\.\d+, 1\.\d+\] +\S+ "
                     r"+5 +1\.200\* ", text, re.MULTILINE) is not None,
           "table row: threads, ratio*, CI, p, pairs, paired ratio*")
    tap.ok(re.search(r"^  2 shadow/mmap +0\.984  \[0\.\d+, 1\.\d+\] +0\.8433 ",
                     text, re.MULTILINE) is not None,
           "report leaves an insignificant ratio unmarked")
    drift = blocks[("contended", "mprotect", 2, "faults_per_sec")]
    dc = drift["comps"][("shadow", "stock")]
    tap.ok(not dc["welch"]["significant"] and dc["paired"]["significant"]
           and close(dc["paired"]["ratio"], 1.1, 0.01) and
           dc["paired"]["n"] == 4,
           f"drifting host: Welch p={dc['welch']['p']:.3f} n.s., paired "
           f"{dc['paired']['ratio']:.3f} over 4 reps significant after Holm")
    c0 = blocks[("contended", "munmap", 2, "faults_per_sec")]["comps"]
    tap.ok(c0[("shadow", "stock")]["paired"]["n"] == 5,
           "paired keeps reps disturbed alike (1.0 and 1.0 CPUs)")
    tap.ok(re.search(r"^Min +1 +59\.00 +39\.00 +58\.00 +59\.00$", text,
                     re.MULTILINE)
           and re.search(r"^Hmean +2 ", text, re.MULTILINE) and
           re.search(r"^contended/munmap  faults_per_sec  \[faults/s, higher "
                     r"is better, Hmean, N=5\]$", text, re.MULTILINE),
           "threads 1 and 2 in one table, title with unit, N and mean")
    tap.ok(re.search(r"^contended/munmap  lat_p50_ns  \[ns, lower is better, "
                     r"Amean, N=5\]$", text, re.MULTILINE) is not None,
           "latency table titled Amean, lower is better")
    tap.ok(("page_fault1", "threads", 2, "ops_per_task_per_sec") in blocks and
           "page_fault1/threads  ops_per_task_per_sec  [ops/s, higher" in text,
           "ops_per_task_per_sec: Hmean table")
    m = re.search(r"^where the time went: contended variant=munmap .*\n.*\n"
                  r"(sleeps_per_kfault +1 .*)\n(sleeps_per_kfault +2 .*)$",
                  text, re.MULTILINE)
    tap.ok(m is not None and m.group(2).split()[2:] ==
           ["0.000", "3.000", "0.000", "0.000"],
           "DIAG table: mean per mode and threads (mmap: 1..5 -> 3)")
    tap.ok("where the time went: contended --latency variant=munmap" in text,
           "DIAG table for the latency runs too")
    tap.ok("1e9" not in text and "1000000000" not in text and
           "1000000.0" not in text, "warm-up values are nowhere in the report")
    tap.ok(all(f"{k}:" in text for k in ("git", "host cpu model", "counter",
                                          "host memory", "accel", "seconds")),
           "every meta.txt key is printed")
    tap.ok("adds nothing" not in text and "not significant" not in text,
           "no hard-coded conclusions")
    m = re.search(r"^host load: .* busy with 0\.28 CPUs of other work on "
                  r"average \(max 1\.00\); more than 0\.25 for 28% of the "
                  r"300 samples\.\n(\d+) of 210 measured runs overlapped",
                  text, re.MULTILINE)
    tap.ok(m is not None and m.group(1) == "47",
           f"host load summary: 47 measured runs disturbed "
           f"(got {m.group(1) if m else None})")
    # Path
    pb = st["path"]
    p1 = pb[("path", "user-vmas1", 1, "insn_per_fault")]
    pc = p1["comps"][("shadow", NONE)]
    tap.ok(close(pc["delta"][0], 100.0, 1e-9) and
           close(pc["welch"]["ratio"], 1.1, 1e-9) and
           pc["welch"]["significant"] and ("mmap", NONE) not in p1["comps"],
           "path: delta +100 insn, ratio 1.1 vs none, significant")
    tap.ok(re.search(r"^ +1  shadow +1100\.0 +0\.\d\d% +\+100\.0 +\d\.\d +"
                     r"1\.100\* \[1\.09\d, 1\.10\d\]", text, re.MULTILINE) and
           re.search(r"^ +1  none +1000\.0 +0\.\d\d%$", text, re.MULTILINE) and
           re.search(r"^ +4096  shadow +1050\.0 +0\.\d\d% +\+0\.0 +\d\.\d +"
                     r"1\.000  ", text, re.MULTILINE),
           "path table rows: Amean, CoeffVar, delta +- CI, ratio* CI p")
    tap.ok("case=user  insn_per_fault  [insn, lower is better, Amean, N=5 "
           "runs]" in text, "path table title")
    m = re.search(r"^Significant after Holm's correction over the (\d+) "
                  r"p-values of this report \(family-wise alpha 0.05\): "
                  r"(\d+)\n((?:  .*\n)+)", text, re.MULTILINE)
    tap.ok(m is not None and int(m.group(1)) == len(tests.all) and
           int(m.group(2)) == len(tests.surviving()) and
           re.search(r"contended/munmap T=2 faults_per_sec shadow/stock +"
                     r"welch +1\.200 \[", m.group(3)) and
           re.search(r"path/user-vmas1 T=1 insn_per_fault shadow/none +"
                     r"welch +1\.100 \[", m.group(3)),
           "survivors listed at the end")
    cols = list(pd.read_csv(os.path.join(d, "runs.csv")).columns)
    tap.ok(cols == RUNS_COLUMNS, "runs.csv columns")
    runs = pd.read_csv(os.path.join(d, "runs.csv"))
    want = 5 * 4 * len(SYNTH) + 5 * sum(len(v) for v in SYNTH_PATH.values())
    tap.ok(len(runs) == want and (runs["rep"] != 0).all(),
           f"runs.csv: {want} measured rows, no rep 0 (got {len(runs)})")
    summ = pd.read_csv(os.path.join(d, "summary.csv"))
    tap.ok(list(summ.columns) == SUMMARY_COLUMNS, "summary.csv columns")
    row = summ[(summ.scenario == "contended") & (summ.variant == "munmap") &
               (summ["mode"] == "shadow") & (summ.threads == 2) &
               (summ.metric == "faults_per_sec")]
    tap.ok(len(row) == 1 and row.iloc[0]["runs"] == 5 and
           close(row.iloc[0]["mean"], stats.hmean(
               [120, 121, 119, 120, 120]), 1e-4) and
           close(row.iloc[0]["stddev"], float(np.std(
               [120, 121, 119, 120, 120], ddof=1)), 1e-4),
           "summary.csv: runs, hmean and sample stddev")
    comp = pd.read_csv(os.path.join(d, "comparisons.csv"))
    tap.ok(list(comp.columns) == COMPARISON_COLUMNS and
           len(comp) == len(tests.all) and
           comp["significant"].sum() == len(tests.surviving()),
           "comparisons.csv: every p-value with its Holm p")
    return text


def self_test_fail(tap, d):
    synth_log(os.path.join(d, "raw.log"), fail=True)
    rc, st, text, err = quiet(report, d)
    tap.ok(rc == 1 and "see" in err, f"FAIL line: exit 1 (got {rc})")
    tap.ok("!!! 2 FAILED RUNS" in text and
           "FAIL: raw.log: FAIL rep=3 mode=mmap scenario=scale" in text,
           "report shows the failure loudly")
    tap.ok(st["blocks"][("scale", "-", 1, "faults_per_sec")]["stats"]["mmap"]
           ["runs"] == 4, "the failed run's results are not counted")
    tap.ok(os.path.exists(os.path.join(d, "summary.csv")),
           "everything is written despite the failure")
    with open(os.path.join(d, "raw.log"), "a") as f:
        f.write("RUN rep=1 mode=bogus scenario=x variant=- threads=1\n"
                "RESULT scenario=scale variant=- threads=1 metric=m unit=u "
                "value=abc faults=1 touched=1\n")
    rc, _, text, _ = quiet(report, d)
    with open(os.path.join(d, "raw.log")) as f:
        n = sum(1 for _ in f)
    tap.ok(rc == 1 and f"PROBLEM: raw.log line {n - 1}: RUN with unknown "
           f"mode 'bogus'" in text and f"PROBLEM: raw.log line {n}: RESULT "
           f"with a non-numeric value" in text,
           "malformed lines reported with file and line number")


def self_test_cli(tap, d):
    rc, _, _, err = quiet(lambda: (main(["x", os.path.join(d, "nope")]),
                                   None))
    tap.ok(rc == 2 and "no such results directory" in err,
           "missing directory: exit 2, clear error")
    rc, _, _, err = quiet(lambda: (main(["x", d]), None))
    tap.ok(rc == 2 and "neither raw.log nor path-raw.log" in err,
           "directory without logs: exit 2")
    rc, _, _, err = quiet(lambda: (main(["x", "--compare", d]), None))
    tap.ok(rc == 2 and "--compare" in err, "bad usage: exit 2, usage text")


def self_test_compare(tap, d):
    a, b = os.path.join(d, "a"), os.path.join(d, "b")
    for x in (a, b):
        os.makedirs(x)
    synth_log(os.path.join(a, "raw.log"), fail=False)
    synth_meta(a, "accel: KVM\n")
    # B: shadow 10% faster everywhere, in a different commit.
    with open(os.path.join(a, "raw.log")) as f, \
            open(os.path.join(b, "raw.log"), "w") as g:
        run = None
        for line in f:
            if line.startswith("RUN "):
                run = parse_fields(line[4:])
            m = re.search(r"value=(\S+)", line)
            if m and run["mode"] == "shadow" and "RESULT" in line:
                v = float(m.group(1))
                line = line.replace(m.group(0), f"value={v * 1.1:.2f}")
            g.write(line)
    synth_meta(b, "accel: KVM\nextra: only in B\n")
    with open(os.path.join(b, "meta.txt")) as f:
        meta = f.read().replace("822fb66-dirty", "9abcdef")
    with open(os.path.join(b, "meta.txt"), "w") as f:
        f.write(meta)
    rc, st, text, _ = quiet(compare, a, b)
    tap.ok(rc == 0, f"compare: exit 0 (got {rc})")
    rows = st["rows"][("contended", "munmap", "faults_per_sec")]
    sh = next(r for r in rows if r[:2] == (2, "shadow"))[4]
    st_ = next(r for r in rows if r[:2] == (2, "stock"))[4]
    tap.ok(close(sh["ratio"], 1.1, 1e-3) and sh["significant"] and
           close(st_["ratio"], 1.0, 1e-12) and not st_["significant"],
           "compare: shadow B/A 1.1 significant, stock 1.0 not")
    tap.ok(re.search(r"^git: +822fb66-dirty +9abcdef  \(differs\)$", text,
                     re.MULTILINE) and
           re.search(r"^extra: +- +only in B", text, re.MULTILINE),
           "compare: metadata side by side")
    tap.ok(re.search(r"^  2 shadow +120\.00 +5 +0\.\d\d +132\.00 +5 +0\.\d\d +"
                     r"1\.100\* \[", text, re.MULTILINE) is not None,
           "compare: row with both means, N, CoeffVar, B/A*, CI")
    rc, _, _, err = quiet(lambda: (main(["x", "--compare", a,
                                         os.path.join(d, "c")]), None))
    tap.ok(rc == 2 and "no such results directory" in err,
           "compare: missing B: exit 2")


def self_test_realistic(tap, d):
    synth_realistic(d, seed=3, reps=4)
    rc, st, text, err = quiet(report, d)
    tap.ok(rc == 0, f"realistic synthetic run: exit 0 (got {rc}) {err}")
    tap.ok(all(("contended", v, t, "faults_per_sec") in st["blocks"]
               for v in ("munmap", "mprotect") for t in (1, 2, 4)) and
           ("pft", "-", 4, "faults_per_sec") in st["blocks"] and
           ("contended", "mprotect", 4, "lat_p99_ns") in st["blocks"],
           "contended, latency and pft at threads 1, 2 and 4")
    tap.ok(len(st["path"]) == 16 and "case=churn" in text,
           "path: 4 cases x 4 N")
    if importlib.util.find_spec("matplotlib") is None:
        tap.ok(True, "no matplotlib  # SKIP plots not tested")
        return
    tap.ok(os.path.getsize(os.path.join(d, "bench.png")) > 10000 and
           os.path.getsize(os.path.join(d, "path.png")) > 10000,
           "bench.png and path.png written")


def self_test():
    tap = Tap()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)   # scipy, numpy
        self_test_stats(tap)
        with tempfile.TemporaryDirectory() as d:
            self_test_report(tap, d)
        with tempfile.TemporaryDirectory() as d:
            self_test_fail(tap, d)
        with tempfile.TemporaryDirectory() as d:
            self_test_cli(tap, d)
        with tempfile.TemporaryDirectory() as d:
            self_test_compare(tap, d)
        with tempfile.TemporaryDirectory() as d:
            self_test_realistic(tap, d)
    print(f"1..{tap.n}")
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
