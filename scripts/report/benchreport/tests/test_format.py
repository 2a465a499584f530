# SPDX-License-Identifier: GPL-2.0
"""format: report.txt's tables and lines, and the CSVs, of the report of
the fixtures' logs."""

import os
import re

import numpy as np
import pandas as pd
from scipy import stats

from ..common import COMPARISON_COLUMNS, RUNS_COLUMNS, SUMMARY_COLUMNS
from .fixtures import SYNTH, SYNTH_PATH, synth_report
from .tap import close, unittest_case


def tables(tap, d):
    _, st, text, _, _ = synth_report()
    blocks = st["blocks"]
    tap.ok(re.search(r"^  2 shadow/stock +1\.200\* \[1\.\d+, 1\.\d+\] +\S+ "
                     r"+5 +1\.200\* ", text, re.MULTILINE) is not None,
           "table row: threads, ratio*, CI, p, pairs, paired ratio*")
    tap.ok(re.search(r"^  2 shadow/mmap +0\.984  \[0\.\d+, 1\.\d+\] +0\.8433 ",
                     text, re.MULTILINE) is not None,
           "report leaves an insignificant ratio unmarked")
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
    tap.ok(all(f"{k}:" in text for k in ("git", "host cpu model", "counter",
                                          "host memory", "accel", "seconds")),
           "every meta.txt key is printed")
    tap.ok("adds nothing" not in text and "not significant" not in text,
           "no hard-coded conclusions")


def path_and_survivors(tap, d):
    _, st, text, _, _ = synth_report()
    tests = st["tests"]
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


def csvs(tap, d):
    _, st, _, _, rd = synth_report()  # the report's directory
    tests = st["tests"]
    cols = list(pd.read_csv(os.path.join(rd, "runs.csv")).columns)
    tap.ok(cols == RUNS_COLUMNS, "runs.csv columns")
    runs = pd.read_csv(os.path.join(rd, "runs.csv"))
    want = 5 * 4 * len(SYNTH) + 5 * sum(len(v) for v in SYNTH_PATH.values())
    tap.ok(len(runs) == want and (runs["rep"] != 0).all(),
           f"runs.csv: {want} measured rows, no rep 0 (got {len(runs)})")
    summ = pd.read_csv(os.path.join(rd, "summary.csv"))
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
    comp = pd.read_csv(os.path.join(rd, "comparisons.csv"))
    tap.ok(list(comp.columns) == COMPARISON_COLUMNS and
           len(comp) == len(tests.all) and
           comp["significant"].sum() == len(tests.surviving()),
           "comparisons.csv: every p-value with its Holm p")


TESTS = [tables, path_and_survivors, csvs]
Test = unittest_case(TESTS)
