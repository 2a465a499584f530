# SPDX-License-Identifier: GPL-2.0
"""The bench report's vocabulary: modes, scenarios, metrics and their order.

Shared by every other module of the package; imports nothing but re.
"""

import re
from pathlib import Path


def _modes():
    """The module's modes in column order: scripts/modes, their one list."""
    with open(Path(__file__).resolve().parents[2] / "modes") as f:
        return [w[1] for w in (line.split() for line in f)
                if len(w) == 2 and not w[0].startswith("#")]


MODES = _modes()
NONE = "none"       # the module not loaded (path-raw.log)
RATIOS = [("shadow", "stock"), ("shadow", "mmap"), ("shadow", "pervma"),
          ("pervma", "stock"), ("spec", "shadow"), ("spec", "pervma"),
          ("spec", "stock")]
SCENARIOS = ["contended", "uncontended", "kernel-faults", "latency", "scale",
             "churn", "page_fault1", "page_fault2", "page_fault3", "pft",
             "path"]
VARIANTS = ["-", "munmap", "mprotect", "threads", "processes"]
PATH_CASES = ["user", "kernel", "newvma", "churn", "cow", "zerowp", "reuse", "file",
              "fallback", "young", "split", "procs"]
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


class UsageError(Exception):
    """Bad usage or an unusable results directory: exit status 2."""


def higher_is_better(metric):
    return metric.endswith("_per_sec")


def better(metric):
    """'higher' or 'lower', as the table titles say it."""
    return "higher" if higher_is_better(metric) else "lower"


def mean_kind(metric):
    return "Hmean" if higher_is_better(metric) else "Amean"


def block_name(scenario, variant):
    """'scenario/variant', or the scenario alone for variant '-'."""
    return scenario if variant == "-" else f"{scenario}/{variant}"


def path_case(variant):
    """A path variant 'CASE-vmasN' as (CASE, N); (variant, None) if not."""
    m = PATH_VARIANT.match(variant)
    return (m.group(1), int(m.group(2))) if m else (variant, None)


def order(value, known):
    return (known.index(value), "") if value in known else (len(known), value)


def variant_key(variant):
    case, n = path_case(variant)
    if n is not None:
        return (order(case, PATH_CASES), n)
    return (order(variant, VARIANTS), 0)


def block_key(k, scenarios):
    scenario, variant, threads, metric = k
    return (order(scenario, scenarios), variant_key(variant), int(threads),
            order(metric, METRICS))


def mode_order(modes):
    return [NONE] + list(modes)
