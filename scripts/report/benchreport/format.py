# SPDX-License-Identifier: GPL-2.0
"""The report's text and CSVs: mmtests-style tables, the Path and DIAG
tables, the survivors of Holm's correction, the comparison of two results
directories.
"""

import math
import os
from collections import defaultdict

import pandas as pd

from .analyse import group_blocks
from .common import (ALPHA, BUSY_HOST, COMPARISON_COLUMNS, NONE,
                     SUMMARY_COLUMNS, better, block_name, mean_kind,
                     mode_order, path_case)
from .parse import busy

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


def metric_title(head, metric, unit, *extra):
    """'HEAD  METRIC  [UNIT, higher is better, Hmean, EXTRA...]'."""
    what = [unit, f"{better(metric)} is better", mean_kind(metric), *extra]
    return f"{head}  {metric}  [{', '.join(what)}]"


def block_title(scenario, variant, metric, unit, runs):
    n = f"N={runs.pop()}" if len(runs) == 1 else "N varies, see Runs"
    return metric_title(block_name(scenario, variant), metric, unit, n)


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
        case, n = path_case(variant)
        n = 0 if n is None else n
        cases.setdefault((case, threads, metric), []).append((n, blk))
    for (case, threads, metric), rows in cases.items():
        unit = rows[0][1]["unit"]
        runs = {s["runs"] for _, b in rows for s in b["stats"].values()}
        tail = f", threads={threads}" if threads != 1 else ""
        nruns = (f"N={runs.pop()} runs" if len(runs) == 1
                 else "runs vary, see summary.csv")
        out += ["", metric_title(f"case={case}{tail}", metric, unit, nruns),
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
    return (f"{block_name(t['scenario'], t['variant'])} T={t['threads']} "
            f"{t['metric']} {t['a']}/{t['b']}")


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


def format_compare(a, b, cmp):
    """The text of --compare: a and b Results, cmp from compare_results."""
    rows, tests, units = cmp["rows"], cmp["tests"], cmp["units"]
    out = ["vmashadow bench comparison: B against A", ""]
    out += compare_meta(a, b) + [""]
    out += problem_lines(a.log, f"A ({a.path})")
    out += problem_lines(b.log, f"B ({b.path})")
    out.append(f"{len(cmp['common'])} scenario/variant/threads/metric/mode "
               f"combinations in both; {cmp['only_a']} only in A, "
               f"{cmp['only_b']} only in B (not shown).")
    out += [("Means: Hmean for *_per_sec (higher is better), Amean otherwise "
            "(lower is better); CoeffVar in %."),
            ("B/A = mean(B) / mean(A), 95% CI by Fieller's theorem and "
            "Welch's p on the values whose Amean the mean"),
            ("is (1/x for Hmean); runs of two boots do not pair. * after B/A: "
            "significant after Holm's correction"),
            (f"over all {len(tests.all)} p-values of this comparison "
            f"(family-wise alpha {ALPHA}).")]
    for (scenario, variant, metric), rs in rows.items():
        unit = units[(scenario, variant, rs[0][0], metric)]
        out += ["", metric_title(block_name(scenario, variant), metric, unit),
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
    return "\n".join(out) + "\n"
