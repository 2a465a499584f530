# SPDX-License-Identifier: GPL-2.0
"""synth: a realistic synthetic results directory, and its report."""

from ..cli import report
from ..synth import synth_realistic
from .tap import quiet, unittest_case


def realistic(tap, d):
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


TESTS = [realistic]
Test = unittest_case(TESTS)
