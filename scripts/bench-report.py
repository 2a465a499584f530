#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn the guest output of the vmashadow benches into tables and a figure.

Usage: bench-report.py RESULTS_DIR
       bench-report.py --self-test

RESULTS_DIR holds raw.log (guest output) and optionally meta.txt
("key: value" lines: kernel, config, cpu, accel, vcpus, runs, date, host
cpus) and host-load.log (host time, CPUs busy outside the guest, CPUs the
guest used; one sample a line, from scripts/bench.sh).
raw.log lines that matter (anything before the keyword, such as "# ", is
ignored; so are all other lines, STATS lines included):

  RUN rep=R mode=M scenario=S variant=V threads=N [t=EPOCH]
  RESULT scenario=S variant=V threads=N metric=X unit=U value=F faults=F touched=T
  DIAG scenario=S variant=V threads=N key=value...
  FAIL rep=R mode=M scenario=S variant=V threads=N rc=C

RESULT and DIAG lines belong to the RUN line before them (a RUN with
scenario=latency, as scripts/guest-bench.sh names "contended --latency",
takes RESULT lines of scenario contended or uncontended with lat_* metrics).
Repetition 0 is warm-up and is discarded. DIAG lines (where the time went:
context switches, the writer's time under mmap_lock) are averaged per mode
into a table of their own, never compared. Writes runs.csv, summary.csv,
report.txt and bench.png (if matplotlib can be imported) into RESULTS_DIR
and prints report.txt.
Exits 1 if a run failed, a run produced no result or a line was
malformed, after writing everything; 2 on bad usage.
"""

import contextlib
import csv
import io
import math
import os
import re
import statistics
import sys
import tempfile
from collections import defaultdict

MODES = ["stock", "mmap", "pervma", "shadow"]
RATIOS = [("shadow", "stock"), ("shadow", "mmap"), ("shadow", "pervma"),
          ("pervma", "stock")]
SCENARIOS = ["contended", "uncontended", "scale", "kernel-faults", "churn"]
VARIANTS = ["-", "munmap", "mprotect"]
LATENCY_SCENARIOS = ["contended", "uncontended"]   # valid with --latency
METRICS = ["faults_per_sec", "writer_ops_per_sec", "lat_p50_ns", "lat_p99_ns",
           "lat_max_ns"]
DEFAULT_THREADS = {"uncontended": 1, "churn": 1}  # the bench's; others: 2
ALPHA = 0.05
RUN_KEYS = ["rep", "mode", "scenario", "variant", "threads"]
RESULT_KEYS = ["scenario", "variant", "threads", "metric", "unit", "value",
               "faults", "touched"]
RUNS_COLUMNS = ["rep", "mode", "scenario", "variant", "threads", "metric",
                "unit", "value", "faults", "touched", "host_load"]
SUMMARY_COLUMNS = ["scenario", "variant", "mode", "threads", "metric", "unit",
                   "runs", "hmean", "stddev", "min", "max"]
META_KEYS = [("kernel", "kernel"), ("config", "config"), ("cpu", "CPU model"),
             ("accel", "accel"), ("vcpus", "vCPUs"), ("runs", "runs"),
             ("date", "date"), ("host cpus", "host CPUs")]
BUSY_HOST = 0.25    # CPUs of other host work: a run above is "disturbed"; two
                    # runs whose loads differ by more do not pair
NOT_SIGNIFICANT = ("the shadow index adds nothing measurable over the "
                   "kernel's own maple tree here")
TCG_NOTE = ("Note: under TCG only ratios inside one boot count, and TCG "
            "inflates lock-holder preemption and TLB-flush costs, so "
            "conclusions about scaling need a KVM host with vCPUs <= "
            "physical CPUs.")

LINE = re.compile(r"(?:^|[\s#\]])(RUN|RESULT|DIAG|FAIL)((?:\s+[a-z_]+=\S*)+)"
                  r"\s*$")
DIAG_KEYS = ["scenario", "variant", "threads"]


# --- statistics --------------------------------------------------------------

def betacf(a, b, x):
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 1000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            return h
    raise ArithmeticError("betacf did not converge")


def betai(a, b, x):
    """Regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    lbt = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
           + a * math.log(x) + b * math.log1p(-x))
    bt = math.exp(lbt)
    # The continued fraction converges fast only below this point.
    if x < (a + 1.0) / (a + b + 2.0):
        return bt * betacf(a, b, x) / a
    return 1.0 - bt * betacf(b, a, 1.0 - x) / b


def t_two_sided_p(t, df):
    """P(|T| >= |t|) for Student's t with df degrees of freedom."""
    if math.isinf(t):
        return 0.0
    return betai(df / 2.0, 0.5, df / (df + t * t))


def welch(a, b):
    """Welch's t-test: (t, df, two-sided p), or None if it cannot be done."""
    if len(a) < 2 or len(b) < 2:
        return None
    ma, mb = statistics.fmean(a), statistics.fmean(b)
    va, vb = statistics.variance(a), statistics.variance(b)
    sa, sb = va / len(a), vb / len(b)
    if sa + sb == 0.0:
        # Two constant samples: equal or infinitely far apart.
        return (0.0, math.inf, 1.0) if ma == mb else (math.inf, math.inf, 0.0)
    t = (ma - mb) / math.sqrt(sa + sb)
    df = (sa + sb) ** 2 / (sa * sa / (len(a) - 1) + sb * sb / (len(b) - 1))
    return t, df, t_two_sided_p(t, df)


def paired(a, b):
    """Paired comparison of a and b, dicts rep -> value (> 0).

    The modes of one repetition run back to back, so slow drifts of the host
    (another guest, the page cache) hit both alike: test the per-repetition
    log ratios log(a/b) against 0 (one-sample t-test, df = n - 1). Returns
    (geometric mean of a/b, two-sided p, n), p None below 2 pairs or with a
    value <= 0.
    """
    reps = sorted(set(a) & set(b))
    if not reps or any(a[r] <= 0 or b[r] <= 0 for r in reps):
        return math.nan, None, len(reps)
    logs = [math.log(a[r] / b[r]) for r in reps]
    gm = math.exp(statistics.fmean(logs))
    if len(logs) < 2:
        return gm, None, len(logs)
    sd = statistics.stdev(logs)
    mean = statistics.fmean(logs)
    if sd == 0.0:
        return gm, (1.0 if mean == 0.0 else 0.0), len(logs)
    t = mean / (sd / math.sqrt(len(logs)))
    return gm, t_two_sided_p(t, len(logs) - 1), len(logs)


def hmean(xs):
    if any(x < 0 for x in xs):
        return math.nan
    return statistics.harmonic_mean(xs)


def describe(xs):
    n = len(xs)
    sd = statistics.stdev(xs) if n > 1 else math.nan
    mean = statistics.fmean(xs)
    return {
        "runs": n,
        "hmean": hmean(xs),
        "stddev": sd,
        # Against the arithmetic mean: the stddev is taken around it.
        "coeffvar": 100.0 * sd / mean if mean else math.nan,
        "min": min(xs),
        "max": max(xs),
    }


# --- parsing -----------------------------------------------------------------

def parse_fields(text):
    return dict(f.split("=", 1) for f in text.split())


class Log:
    """What raw.log says: measured results, failures, problems."""

    def __init__(self):
        self.results = []     # dicts with RUNS_COLUMNS keys, rep >= 1
        self.diags = []       # DIAG lines of rep >= 1: run keys + values
        self.runs = []        # every RUN line in order: {"t", "measured"}
        self.warmup = 0       # RESULT lines of rep 0, discarded
        self.failures = []    # FAIL lines, as text
        self.problems = []    # malformed or orphan lines, empty runs


def check_run(fields, keys, lineno, kind):
    missing = [k for k in keys if k not in fields]
    if missing:
        raise ValueError(f"line {lineno}: {kind} without {', '.join(missing)}")
    if not fields["rep"].isdigit() or not fields["threads"].isdigit():
        raise ValueError(f"line {lineno}: {kind} with a bad rep or threads")
    if fields["mode"] not in MODES:
        raise ValueError(f"line {lineno}: {kind} with unknown mode "
                         f"'{fields['mode']}'")


def check_result(fields, run, lineno):
    missing = [k for k in RESULT_KEYS if k not in fields]
    if missing:
        raise ValueError(f"line {lineno}: RESULT without {', '.join(missing)}")
    value = float(fields["value"])
    if not math.isfinite(value):
        raise ValueError(f"line {lineno}: RESULT value {fields['value']}")
    int(fields["faults"])
    int(fields["touched"])
    if run is None:
        raise ValueError(f"line {lineno}: RESULT before any RUN line")
    for k in ("scenario", "variant", "threads"):
        # The wrapper names its "contended --latency" runs scenario=latency.
        if (k == "scenario" and run[k] == "latency" and
                fields[k] in LATENCY_SCENARIOS and
                lower_is_better(fields["metric"])):
            continue
        if fields[k] != run[k]:
            raise ValueError(f"line {lineno}: RESULT {k}={fields[k]} in a "
                             f"RUN with {k}={run[k]}")


def check_diag(fields, run, lineno):
    """A DIAG line: the run's keys and its numeric values."""
    missing = [k for k in DIAG_KEYS if k not in fields]
    if missing:
        raise ValueError(f"line {lineno}: DIAG without {', '.join(missing)}")
    if run is None:
        raise ValueError(f"line {lineno}: DIAG before any RUN line")
    values = {}
    for k, v in fields.items():
        if k in DIAG_KEYS:
            continue
        x = float(v)
        if not math.isfinite(x):
            raise ValueError(f"line {lineno}: DIAG {k}={v}")
        values[k] = x
    # Keyed like the RESULT lines of the run (latency runs: by scenario).
    return {"mode": run["mode"], "rep": int(run["rep"]),
            "scenario": run["scenario"], "variant": fields["variant"],
            "threads": fields["threads"], "values": values}


def parse_log(lines):
    log = Log()
    run = None           # fields of the current RUN line
    pending = []         # its results, kept until the next RUN or FAIL
    pending_diag = []    # its DIAG lines

    def close_run():
        if run is None:
            return
        if not pending:
            log.problems.append(
                "run without results and without FAIL: " + run_name(run))
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
            fields = parse_fields(m.group(2))
            if kind == "RUN":
                check_run(fields, RUN_KEYS, lineno, kind)
                close_run()
                run, pending, pending_diag = fields, [], []
                log.runs.append({"t": int(fields["t"]) if fields.get(
                    "t", "").isdigit() else None, "measured": False})
            elif kind == "RESULT":
                check_result(fields, run, lineno)
                pending.append({"rep": int(run["rep"]), "mode": run["mode"],
                                **{k: fields[k] for k in RESULT_KEYS},
                                "run": len(log.runs) - 1})
            elif kind == "DIAG":
                pending_diag.append(check_diag(fields, run, lineno))
            else:
                check_run(fields, RUN_KEYS + ["rc"], lineno, kind)
                log.failures.append(m.group(0).strip())
                # The failed run's results, if any, do not count.
                if run is not None and all(run[k] == fields[k]
                                           for k in RUN_KEYS):
                    run, pending, pending_diag = None, [], []
        except ValueError as e:
            msg = str(e)
            if not msg.startswith("line "):
                msg = f"line {lineno}: {kind}: {msg}"
            log.problems.append(msg)
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

    A run lasts until the next RUN line; a sample covers the 2 s before its
    time stamp. Runs without a time stamp or a sample get None.
    """
    for i, run in enumerate(log.runs):
        run["load"] = None
        if run["t"] is None or not samples:
            continue
        nxt = log.runs[i + 1]["t"] if i + 1 < len(log.runs) else None
        end = nxt if nxt is not None and nxt >= run["t"] else run["t"] + 5
        during = [o for t, o in samples if run["t"] < t <= end + 2]
        if during:
            run["load"] = statistics.fmean(during)
    for r in log.results:
        r["host_load"] = log.runs[r["run"]]["load"]


def busy(load):
    return load is not None and load > BUSY_HOST


def same_conditions(load_a, load_b):
    if load_a is None or load_b is None:
        return load_a is None and load_b is None
    return abs(load_a - load_b) <= BUSY_HOST


def host_load_lines(samples, log, host_cpus):
    """What else the host ran during the guest run, in the report's words."""
    if not samples:
        return []
    others = [o for _, o in samples]
    out = [f"host load: besides the guest, the host's {host_cpus} CPUs were "
           f"busy with {statistics.fmean(others):.2f} CPUs of other work on "
           f"average (max {max(others):.2f}); more than {BUSY_HOST} for "
           f"{100.0 * sum(o > BUSY_HOST for o in others) / len(others):.0f}% "
           f"of the {len(others)} samples."]
    measured = [r for r in log.runs if r["measured"]]
    if any(r["load"] is not None for r in measured):
        n = sum(busy(r["load"]) for r in measured)
        out.append(f"{n} of {len(measured)} measured runs overlapped other "
                   f"work of more than {BUSY_HOST} CPUs: they ran slower in "
                   f"whatever mode they measured. They count in the Hmeans "
                   f"and Welch's test; the paired ratios leave out a "
                   f"repetition when its two runs saw other loads more "
                   f"than {BUSY_HOST} CPUs apart.")
    return out


def run_name(f):
    return " ".join(f"{k}={f[k]}" for k in RUN_KEYS)


def read_meta(path):
    meta = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                key, sep, value = line.partition(":")
                if sep:
                    meta[key.strip().lower()] = value.strip()
    return {k: meta.get(k) or "unknown" for k, _ in META_KEYS}


# --- analysis ----------------------------------------------------------------

def order(value, known):
    return (known.index(value), "") if value in known else (len(known), value)


def block_key(k):
    scenario, variant, threads, metric = k
    return (order(scenario, SCENARIOS), order(variant, VARIANTS), int(threads),
            order(metric, METRICS))


def lower_is_better(metric):
    return metric.startswith("lat_")


def analyse(results):
    """Group by block and mode; compare the modes inside each block."""
    samples = defaultdict(lambda: defaultdict(list))
    by_rep = defaultdict(lambda: defaultdict(dict))
    units = {}
    for r in results:
        k = (r["scenario"], r["variant"], r["threads"], r["metric"])
        samples[k][r["mode"]].append(float(r["value"]))
        by_rep[k][r["mode"]][int(r["rep"])] = (float(r["value"]),
                                               r.get("host_load"))
        units[k] = r["unit"]
    blocks = {}
    for k in sorted(samples, key=block_key):
        stats = {m: describe(xs) for m, xs in samples[k].items()}
        comps = {}
        for a, b in RATIOS:
            comps[(a, b)] = compare(k[3], samples[k].get(a), samples[k].get(b),
                                    stats.get(a), stats.get(b),
                                    by_rep[k].get(a), by_rep[k].get(b))
        blocks[k] = {"unit": units[k], "samples": samples[k], "stats": stats,
                     "comps": comps}
    return blocks


def compare(metric, a, b, sa, sb, ra=None, rb=None):
    if not a or not b:
        return {"ratio": math.nan, "pct": math.nan, "p": None,
                "significant": False, "why": "mode missing",
                "pratio": math.nan, "pp": None, "pn": 0,
                "psignificant": False}
    ratio = (sa["hmean"] / sb["hmean"] if sb["hmean"] else math.nan)
    pct = (ratio - 1.0) * 100.0
    if lower_is_better(metric):
        pct = -pct
    w = welch(a, b)
    # Pair a repetition's runs only if the host gave them the same
    # conditions: both without a load sample, or loads within BUSY_HOST.
    ra, rb = ra or {}, rb or {}
    reps = [r for r in ra if r in rb and same_conditions(ra[r][1], rb[r][1])]
    pratio, pp, pn = paired({r: ra[r][0] for r in reps},
                            {r: rb[r][0] for r in reps})
    return {"ratio": ratio, "pct": pct, "p": w[2] if w else None,
            "significant": bool(w) and w[2] < ALPHA,
            "why": None if w else "fewer than 2 runs",
            "pratio": pratio, "pp": pp, "pn": pn,
            "psignificant": pp is not None and pp < ALPHA}


# --- output ------------------------------------------------------------------

def write_runs(path, results):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(RUNS_COLUMNS)
        for r in results:
            load = r.get("host_load")
            w.writerow([r[c] for c in RUNS_COLUMNS[:-1]] +
                       ["" if load is None else f"{load:.2f}"])


def fmt_csv(x):
    return "nan" if isinstance(x, float) and math.isnan(x) else f"{x:.4f}"


def write_summary(path, blocks):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(SUMMARY_COLUMNS)
        for (scenario, variant, threads, metric), blk in blocks.items():
            for mode in sorted(blk["stats"], key=lambda m: order(m, MODES)):
                s = blk["stats"][mode]
                w.writerow([scenario, variant, mode, threads, metric,
                            blk["unit"], s["runs"], fmt_csv(s["hmean"]),
                            fmt_csv(s["stddev"]), fmt_csv(s["min"]),
                            fmt_csv(s["max"])])


def fmt_cell(x):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:.2f}"


def fmt_p(p):
    return f"p={p:.4f}" if p >= 1e-4 else f"p={p:.1e}"


def format_comp(name, c):
    if c["why"] == "mode missing":
        return f"{name:<16}{'n/a':>14}   (mode missing)"
    mark = "*" if c["significant"] else " "
    if c["p"] is None:
        return (f"{name:<16}{c['ratio']:>14.4f} {c['pct']:>+8.2f}%{mark}  "
                f"p=n/a (fewer than 2 runs)")
    pmark = "*" if c["psignificant"] else " "
    paired_txt = (f"paired({c['pn']}) n/a" if c["pp"] is None else
                  f"paired({c['pn']}) {c['pratio']:.4f} {fmt_p(c['pp'])}"
                  f"{pmark}")
    return (f"{name:<16}{c['ratio']:>14.4f} {c['pct']:>+8.2f}%{mark}  "
            f"{fmt_p(c['p']):<10}  {paired_txt}")


def format_block(k, blk):
    scenario, variant, threads, metric = k
    better = "lower" if lower_is_better(metric) else "higher"
    out = [f"{scenario} variant={variant} threads={threads} metric={metric} "
           f"({blk['unit']}, {better} is better)"]
    out.append(f"{'':<16}" + "".join(f"{m:>14}" for m in MODES))
    out.append(f"{'Runs':<16}" + "".join(
        f"{blk['stats'][m]['runs'] if m in blk['stats'] else '-':>14}"
        for m in MODES))
    for label, key in (("Hmean", "hmean"), ("Stddev", "stddev"),
                       ("CoeffVar", "coeffvar"), ("Min", "min"),
                       ("Max", "max")):
        cells = [fmt_cell(blk["stats"][m][key]) if m in blk["stats"] else "-"
                 for m in MODES]
        out.append(f"{label:<16}" + "".join(f"{c:>14}" for c in cells))
    for (a, b), c in blk["comps"].items():
        out.append(format_comp(f"{a}/{b}", c))
    return out


def scenario_sentence(scenario, variant, items):
    """One sentence on shadow/pervma for a scenario; None if all significant."""
    name = scenario if variant == "-" else f"{scenario}/{variant}"
    untested = [f"{m} at threads={t}" for (t, m), c in items
                if c["p"] is None]
    weak = [f"{m} at threads={t}" for (t, m), c in items
            if c["p"] is not None and not c["significant"] and
            not c["psignificant"]]
    paired_only = [f"{m} at threads={t} ({c['pratio']:.4f}, paired "
                   f"{fmt_p(c['pp'])})" for (t, m), c in items
                   if c["p"] is not None and not c["significant"] and
                   c["psignificant"]]
    out = []
    if weak:
        out.append(f"{name}: shadow/pervma is not significant (Welch p >= "
                   f"{ALPHA}, paired p >= {ALPHA}) for {', '.join(weak)}: "
                   f"{NOT_SIGNIFICANT}.")
    if paired_only:
        out.append(f"{name}: shadow/pervma is significant in the paired test "
                   f"only (Welch p >= {ALPHA}) for "
                   f"{', '.join(paired_only)}.")
    if untested:
        out.append(f"{name}: shadow/pervma could not be tested for "
                   f"{', '.join(untested)} (a mode missing or fewer than 2 "
                   f"runs).")
    return out


def format_report(meta, log, blocks, host_load=()):
    out = ["vmashadow bench report", ""]
    for key, label in META_KEYS:
        out.append(f"{label + ':':<11}{meta[key]}")
    out += ["", TCG_NOTE, ""]
    load = host_load_lines(host_load, log, meta["host cpus"])
    if load:
        out += load + [""]
    if log.failures or log.problems:
        n = len(log.failures)
        out.append(f"!!! {n} FAILED RUN{'S' if n != 1 else ''} AND "
                   f"{len(log.problems)} PROBLEM"
                   f"{'S' if len(log.problems) != 1 else ''} IN raw.log: "
                   f"THESE RESULTS ARE INCOMPLETE !!!")
        out += [f"FAIL: {f}" for f in log.failures]
        out += [f"PROBLEM: {p}" for p in log.problems]
        out.append("")
    out.append(f"Repetition rep=0 is warm-up and was discarded "
               f"({log.warmup} result lines); {len(log.results)} measured "
               f"result lines remain.")
    out.append("Hmean is the harmonic mean, Stddev the sample standard "
               "deviation (n-1), CoeffVar = 100 * Stddev / arithmetic mean.")
    out.append("a/b rows: ratio of Hmeans, then the change in percent where "
               "positive is better (for lat_* lower is better); * marks "
               f"Welch's t-test p < {ALPHA}. Then 'paired(n)': the "
               "geometric mean of the per-repetition ratios a/b over the n "
               "repetitions whose two runs saw the same conditions on the "
               "host (the modes of one repetition run back to back, so a "
               "slow drift of the host hits both; a repetition whose runs "
               f"saw other loads more than {BUSY_HOST} CPUs apart is left "
               "out) and the p of a one-sample t-test of their logs, * if "
               f"p < {ALPHA}.")
    if not blocks:
        out += ["", "NO MEASURED RESULTS."]
    by_scenario = defaultdict(list)
    for k, blk in blocks.items():
        by_scenario[(k[0], k[1])].append((k, blk))
    diags = diag_tables(log.diags)
    for (scenario, variant), items in by_scenario.items():
        for k, blk in items:
            out.append("")
            out += format_block(k, blk)
        shadow_pervma = [((k[2], k[3]), blk["comps"][("shadow", "pervma")])
                         for k, blk in items]
        sentences = scenario_sentence(scenario, variant, shadow_pervma)
        if sentences:
            out.append("")
            out += sentences
        run_scenarios = [scenario] + (["latency"] if scenario == "contended"
                                      else [])
        for dk in sorted(diags, key=lambda d: (d[0] != scenario, int(d[2]))):
            if dk[0] in run_scenarios and dk[1] == variant:
                out.append("")
                out += format_diag(dk, diags[dk])
    return "\n".join(out) + "\n"


def diag_tables(diags):
    """(run scenario, variant, threads) -> key -> mode -> mean of values."""
    acc = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for d in diags:
        for key, v in d["values"].items():
            acc[(d["scenario"], d["variant"], d["threads"])][key][
                d["mode"]].append(v)
    return {dk: {key: {m: statistics.fmean(vs) for m, vs in by_mode.items()}
                 for key, by_mode in keys.items()}
            for dk, keys in acc.items()}


def format_diag(dk, table):
    scenario, variant, threads = dk
    name = "contended --latency" if scenario == "latency" else scenario
    out = [f"where the time went: {name} variant={variant} threads={threads} "
           f"(DIAG, mean per mode; see vmashadow_bench.c report_diag())"]
    out.append(f"{'':<20}" + "".join(f"{m:>12}" for m in MODES))
    for key, by_mode in table.items():
        cells = [f"{by_mode[m]:.3f}" if m in by_mode else "-" for m in MODES]
        out.append(f"{key:<20}" + "".join(f"{c:>12}" for c in cells))
    return out


# --- figure ------------------------------------------------------------------

def plot_threads(scenario, threads_present):
    want = DEFAULT_THREADS.get(scenario, 2)
    return want if want in threads_present else min(threads_present)


def write_plot(path, meta, blocks):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        print(f"bench-report: WARNING: no matplotlib ({e}): {path} not "
              f"written; everything else was.", file=sys.stderr)
        return False

    bars = defaultdict(dict)   # (scenario, variant, metric) -> threads -> blk
    scale = None
    for (scenario, variant, threads, metric), blk in blocks.items():
        if lower_is_better(metric):
            continue
        if scenario == "scale":
            if metric == "faults_per_sec":
                scale = scale or {}
                scale[int(threads)] = blk
            continue
        bars[(scenario, variant, metric)][int(threads)] = blk
    panels = len(bars) + (1 if scale else 0)
    if not panels:
        print(f"bench-report: WARNING: no throughput results: {path} not "
              f"written.", file=sys.stderr)
        return False
    cols = min(3, panels)
    rows = (panels + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.8 * rows),
                             squeeze=False)
    colors = dict(zip(MODES, ["#777777", "#d62728", "#1f77b4", "#2ca02c"]))
    ax_iter = iter(axes.flat)
    for (scenario, variant, metric), by_threads in bars.items():
        threads = plot_threads(scenario, list(by_threads))
        plot_bars(next(ax_iter), scenario, variant, metric, threads,
                  by_threads[threads], colors)
    if scale:
        plot_scale(next(ax_iter), scale, colors)
    for ax in ax_iter:
        ax.set_visible(False)
    fig.suptitle(f"vmashadow benches: kernel {meta['kernel']}, "
                 f"{meta['accel']}, {meta['vcpus']} vCPUs, {meta['runs']} "
                 f"runs (Hmean, error bars: stddev)"
                 + ("; TCG: compare ratios only" if meta["accel"] == "TCG"
                    else ""), fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def plot_bars(ax, scenario, variant, metric, threads, blk, colors):
    modes = [m for m in MODES if m in blk["stats"]]
    h = [blk["stats"][m]["hmean"] for m in modes]
    sd = [0.0 if math.isnan(blk["stats"][m]["stddev"])
          else blk["stats"][m]["stddev"] for m in modes]
    ax.bar(modes, h, yerr=sd, capsize=4, color=[colors[m] for m in modes])
    stock = blk["stats"].get("stock", {}).get("hmean")
    if stock:
        # Above the error bar, where it cannot be hidden.
        for i, (v, e) in enumerate(zip(h, sd)):
            ax.annotate(f"{v / stock:.2f}x", (i, v + e), ha="center",
                        va="bottom", fontsize=8, xytext=(0, 3),
                        textcoords="offset points")
    tops = [v + e for v, e in zip(h, sd) if math.isfinite(v + e)]
    if tops and max(tops) > 0:
        ax.set_ylim(0, max(tops) * 1.15)   # room for the labels
    name = scenario if variant == "-" else f"{scenario}/{variant}"
    ax.set_title(f"{name}, threads={threads}\n{metric} (x = vs stock)",
                 fontsize=9)
    ax.set_ylabel(blk["unit"])


def plot_scale(ax, scale, colors):
    threads = sorted(scale)
    for m in MODES:
        xs = [t for t in threads if m in scale[t]["stats"]]
        if not xs:
            continue
        ys = [scale[t]["stats"][m]["hmean"] for t in xs]
        sd = [0.0 if math.isnan(scale[t]["stats"][m]["stddev"])
              else scale[t]["stats"][m]["stddev"] for t in xs]
        ax.errorbar(xs, ys, yerr=sd, marker="o", capsize=3, label=m,
                    color=colors[m])
    ax.set_xticks(threads)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("threads")
    ax.set_ylabel(scale[threads[0]]["unit"])
    ax.set_title("scale: faults_per_sec vs threads", fontsize=9)
    ax.legend(fontsize=8)


# --- main --------------------------------------------------------------------

def report(results_dir):
    """Write everything into results_dir; returns (exit status, blocks)."""
    raw = os.path.join(results_dir, "raw.log")
    with open(raw, encoding="utf-8", errors="replace") as f:
        log = parse_log(f)
    meta = read_meta(os.path.join(results_dir, "meta.txt"))
    host_load = read_host_load(os.path.join(results_dir, "host-load.log"))
    attribute_host_load(log, host_load)
    blocks = analyse(log.results)
    write_runs(os.path.join(results_dir, "runs.csv"), log.results)
    write_summary(os.path.join(results_dir, "summary.csv"), blocks)
    text = format_report(meta, log, blocks, host_load)
    with open(os.path.join(results_dir, "report.txt"), "w") as f:
        f.write(text)
    write_plot(os.path.join(results_dir, "bench.png"), meta, blocks)
    sys.stdout.write(text)
    bad = log.failures or log.problems or not log.results
    if bad:
        print(f"bench-report: {len(log.failures)} failed runs, "
              f"{len(log.problems)} problems, {len(log.results)} results: "
              f"see {os.path.join(results_dir, 'report.txt')}",
              file=sys.stderr)
    return (1 if bad else 0), blocks


def main(argv):
    if len(argv) == 2 and argv[1] == "--self-test":
        return self_test()
    if len(argv) != 2 or argv[1].startswith("-"):
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    if not os.path.isfile(os.path.join(argv[1], "raw.log")):
        print(f"bench-report: no raw.log in {argv[1]}", file=sys.stderr)
        return 2
    return report(argv[1])[0]


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
}


def synth_log(path, fail):
    with open(path, "w") as f:
        f.write("booting...\n[    1.234] random kernel line\n")
        for rep in range(6):
            seen = []
            for (sc, var, thr, metric), by_mode in SYNTH.items():
                if metric != "faults_per_sec" and metric != "lat_p50_ns":
                    continue    # written together with faults_per_sec
                # As scripts/guest-bench.sh names its latency runs.
                run_sc = "latency" if metric == "lat_p50_ns" else sc
                for mode in MODES:
                    run = (f"rep={rep} mode={mode} scenario={run_sc} "
                           f"variant={var} threads={thr}")
                    # 24 runs a rep, 2 s each, 48 s between reps, from t=1000
                    t = 1000 + 2 * (24 * rep + len(seen))
                    seen.append(run)
                    f.write(f"RUN {run} t={t}\n")
                    if fail and rep == 3 and mode == "mmap" and sc == "scale":
                        f.write(f"FAIL {run} rc=1\n")
                        continue
                    f.write(f"# {sc} variant={var}: a comment\n")
                    metrics = [metric]
                    if metric == "faults_per_sec" and sc == "contended":
                        metrics.append("writer_ops_per_sec")
                    for m in metrics:
                        # rep 0 is absurd: if it were kept, means would move.
                        v = (1e9 if rep == 0 else
                             SYNTH[(sc, var, thr, m)][mode][rep - 1])
                        unit = {"faults_per_sec": "faults/s",
                                "writer_ops_per_sec": "ops/s"}.get(m, "ns")
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
    gm, p, n = paired({1: 2.0, 2: 4.0, 3: 8.0}, {1: 1.0, 2: 2.0, 3: 4.0})
    tap.ok(close(gm, 2.0, 1e-12) and p == 0.0 and n == 3,
           "paired: constant ratio 2 -> gm 2, p 0")
    # logs of the ratios 1, e, e^2: mean 1, sd 1, t = sqrt(3), df 2.
    gm, p, n = paired({1: 1.0, 2: math.e, 3: math.e ** 2, 4: 5.0},
                      {1: 1.0, 2: 1.0, 3: 1.0})
    tap.ok(close(gm, math.e, 1e-12) and n == 3 and
           close(p, 1 - math.sqrt(3) / math.sqrt(5), 1e-10),
           f"paired: unpaired reps ignored, t=sqrt(3) df=2 (got p={p})")
    tap.ok(paired({1: 1.0}, {1: 2.0})[1] is None and
           paired({1: 1.0, 2: 0.0}, {1: 2.0, 2: 1.0})[1] is None,
           "paired: no p for one pair or a zero value")
    t, df, p = welch([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
    tap.ok(close(t, -5.0, 1e-12) and close(df, 8.0, 1e-9),
           f"welch t=-5 df=8 for 1..5 vs 6..10 (got t={t} df={df})")
    tap.ok(close(p, 0.0010528, 2e-6), f"welch p ~ 0.00105 (got {p:.7f})")
    tap.ok(close(betai(2, 3, 0.5), 0.6875, 1e-12), "I_0.5(2,3) = 0.6875")
    tap.ok(close(betai(0.5, 0.5, 0.5), 0.5, 1e-12), "I_0.5(0.5,0.5) = 0.5")
    # Closed forms: df=1 is Cauchy, df=2 has p = 1 - |t|/sqrt(2+t^2).
    ok = all(close(t_two_sided_p(t, 1), 1 - 2 / math.pi * math.atan(t), 1e-10)
             and close(t_two_sided_p(t, 2), 1 - t / math.sqrt(2 + t * t),
                       1e-10)
             for t in (0.1, 1.0, 2.5, 10.0, 100.0))
    tap.ok(ok, "t p-values match closed forms for df=1 and df=2")
    # Two-sided 5% and 1% critical values from t tables.
    table = [(1, 12.706, 0.05), (3, 3.182, 0.05), (8, 2.306, 0.05),
             (30, 2.042, 0.05), (5, 4.032, 0.01), (20, 2.845, 0.01)]
    ok = all(close(t_two_sided_p(t, df), p, 5e-4 * p / 0.05)
             for df, t, p in table)
    tap.ok(ok, "t p-values match table critical values")
    tap.ok(t_two_sided_p(0.0, 7) == 1.0, "p = 1 at t = 0")
    tap.ok(welch([1], [2, 3]) is None, "welch needs 2 samples each")
    tap.ok(welch([2, 2], [2, 2])[2] == 1.0 and welch([2, 2], [3, 3])[2] == 0,
           "welch on constant samples")
    tap.ok(close(hmean([1, 2, 4]), 12 / 7, 1e-12), "hmean(1,2,4) = 12/7")


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], [dict(zip(rows[0], r)) for r in rows[1:]]


def quiet_report(d):
    out = io.StringIO()
    with contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(io.StringIO()):
        rc, blocks = report(d)
    return rc, blocks, out.getvalue()


def self_test_report(tap, d):
    synth_log(os.path.join(d, "raw.log"), fail=False)
    with open(os.path.join(d, "meta.txt"), "w") as f:
        f.write("kernel: 7.3.4-vmashadow\naccel: TCG\nvcpus: 2\nruns: 5\n")
    with open(os.path.join(d, "host-load.log"), "w") as f:
        # Busy until t=1120 (see synth_log): reps 0 and 1 and the first 11
        # runs of rep 2, from t=1096 to 1116: 24 + 11 measured runs.
        for t in range(1000, 1400, 2):
            f.write(f"{t}.0 {1.0 if t < 1120 else 0.0:.2f} 1.90\n")
    rc, blocks, text = quiet_report(d)
    tap.ok(rc == 0, f"clean log: exit 0 (got {rc})")
    key = ("contended", "munmap", "2", "faults_per_sec")
    c = blocks[key]["comps"][("shadow", "stock")]
    want = statistics.harmonic_mean(SYNTH[key[:2] + (2, key[3])]["shadow"]) \
        / statistics.harmonic_mean(SYNTH[key[:2] + (2, key[3])]["stock"])
    tap.ok(close(c["ratio"], want, 1e-12) and close(c["pct"], 20.0, 0.1),
           f"contended shadow/stock ratio {c['ratio']:.4f} ~ 1.2, +20%")
    tap.ok(c["significant"], "contended shadow/stock is significant")
    w = blocks[("contended", "munmap", "2", "writer_ops_per_sec")]
    tap.ok(not w["comps"][("shadow", "stock")]["significant"],
           "writer shadow/stock is not significant")
    lat = blocks[("contended", "munmap", "2", "lat_p50_ns")]
    lc = lat["comps"][("shadow", "stock")]
    tap.ok(lat["stats"]["shadow"]["runs"] == 5,
           "RUN scenario=latency takes RESULT scenario=contended lat_*")
    tap.ok(close(lc["pct"], 20.0, 0.2) and lc["ratio"] < 1 and
           lc["significant"], f"latency: lower is better, +{lc['pct']:.1f}%")
    tap.ok(re.search(r"^shadow/stock\s+1\.2\d+\s+\+20\.\d\d%\*", text, re.M)
           is not None, "report marks the significant ratio with *")
    tap.ok(re.search(r"^shadow/stock\s+\S+\s+[+-]\d+\.\d\d% ", text, re.M)
           is not None, "report leaves an insignificant ratio unmarked")
    tap.ok("contended/mprotect: shadow/pervma is significant in the paired "
           "test only" in text, "mprotect: 'paired test only' sentence")
    tap.ok("uncontended: shadow/pervma is not significant" in text and
           NOT_SIGNIFICANT in text, "uncontended: 'adds nothing' sentence")
    tap.ok("contended/munmap: shadow/pervma is not significant" in text and
           "for writer_ops_per_sec at threads=2:" in text,
           "contended: sentence names only the insignificant metric")
    tap.ok("warm-up and was discarded" in text, "report says rep 0 dropped")
    m = re.search(r"^host load: .* busy with 0\.30 CPUs of other work on "
                  r"average \(max 1\.00\); more than 0\.25 for 30% of the "
                  r"200 samples\.\n(\d+) of 120 measured runs overlapped",
                  text, re.M)
    tap.ok(m is not None and m.group(1) == "35",
           f"host load summary: 35 measured runs disturbed "
           f"(got {m.group(1) if m else None})")
    c = blocks[("contended", "mprotect", "2", "faults_per_sec")]["comps"]
    c0 = blocks[("contended", "munmap", "2", "faults_per_sec")]["comps"]
    tap.ok(c[("shadow", "stock")]["pn"] == 4 and
           c0[("shadow", "stock")]["pn"] == 5,
           "paired test leaves out a rep whose runs saw 0.0 and 1.0 CPUs of "
           "other load, keeps reps disturbed alike (1.0 and 1.0)")
    drift = blocks[("contended", "mprotect", "2", "faults_per_sec")]
    dc = drift["comps"][("shadow", "stock")]
    tap.ok(not dc["significant"] and dc["psignificant"] and
           close(dc["pratio"], 1.1, 0.01),
           f"drifting host: Welch p={dc['p']:.3f} not significant, paired "
           f"{dc['pratio']:.3f} p={dc['pp']:.1e} significant")
    tap.ok(re.search(r"^shadow/stock\s+1\.09\d+\s+\+9\.\d\d% +p=0\.\d+ +"
                     r"paired\(4\) 1\.\d+ p=\S+\*$", text, re.M) is not None,
           "report shows the paired ratio over 4 reps, marked")
    m = re.search(r"^where the time went: contended variant=munmap "
                  r"threads=2 .*\n.*\n(sleeps_per_kfault.*)$", text, re.M)
    tap.ok(m is not None and m.group(1).split()[1:] ==
           ["0.000", "3.000", "0.000", "0.000"],
           "DIAG table: mean per mode over measured reps (mmap: 1..5 -> 3)")
    tap.ok("where the time went: contended --latency variant=munmap" in text,
           "DIAG table for the latency runs too")
    tap.ok("1e9" not in text and "1000000000" not in text,
           "warm-up values are nowhere in the report")
    tap.ok("kernel:    7.3.4-vmashadow" in text and
           "config:    unknown" in text and TCG_NOTE in text,
           "header from meta.txt, unknown when missing, TCG note")
    cols, rows = read_csv(os.path.join(d, "runs.csv"))
    tap.ok(cols == RUNS_COLUMNS, "runs.csv columns")
    want = 5 * 4 * len(SYNTH)
    tap.ok(len(rows) == want and all(r["rep"] != "0" for r in rows),
           f"runs.csv: {want} measured rows, no rep 0 (got {len(rows)})")
    cols, rows = read_csv(os.path.join(d, "summary.csv"))
    tap.ok(cols == SUMMARY_COLUMNS, "summary.csv columns")
    row = [r for r in rows if r["scenario"] == "contended" and
           r["variant"] == "munmap" and r["mode"] == "shadow" and
           r["metric"] == "faults_per_sec"]
    tap.ok(len(row) == 1 and row[0]["runs"] == "5" and
           close(float(row[0]["hmean"]), statistics.harmonic_mean(
               [120, 121, 119, 120, 120]), 1e-4) and
           close(float(row[0]["stddev"]), statistics.stdev(
               [120, 121, 119, 120, 120]), 1e-4),
           "summary.csv: runs, hmean and sample stddev")
    return text


def self_test_fail(tap, d):
    synth_log(os.path.join(d, "raw.log"), fail=True)
    rc, blocks, text = quiet_report(d)
    tap.ok(rc == 1, f"FAIL line: exit 1 (got {rc})")
    tap.ok("!!! 2 FAILED RUNS" in text and
           "FAIL: FAIL rep=3 mode=mmap scenario=scale" in text,
           "report shows the failure loudly")
    tap.ok(blocks[("scale", "-", "1", "faults_per_sec")]["stats"]["mmap"]
           ["runs"] == 4, "the failed run's results are not counted")
    tap.ok(os.path.exists(os.path.join(d, "summary.csv")),
           "everything is written despite the failure")
    with open(os.path.join(d, "raw.log"), "a") as f:
        f.write("RESULT scenario=x variant=- threads=1 metric=m unit=u "
                "value=abc faults=1 touched=1\n")
    rc, _, text = quiet_report(d)
    tap.ok(rc == 1 and "PROBLEM: line" in text, "malformed RESULT reported")


def self_test_plot(tap, d):
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        tap.ok(not os.path.exists(os.path.join(d, "bench.png")),
               "no matplotlib: bench.png skipped  # SKIP plot not tested")
        return
    png = os.path.join(d, "bench.png")
    tap.ok(os.path.getsize(png) > 10000, "bench.png written")


def self_test():
    tap = Tap()
    self_test_stats(tap)
    with tempfile.TemporaryDirectory() as d:
        self_test_report(tap, d)
        self_test_plot(tap, d)
    with tempfile.TemporaryDirectory() as d:
        self_test_fail(tap, d)
    print(f"1..{tap.n}")
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
