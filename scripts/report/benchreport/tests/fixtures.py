# SPDX-License-Identifier: GPL-2.0
"""The self-test's logs: small, exactly known values (SYNTH, SYNTH_PATH)
and the report of them, made once and shared by the test files.
"""

import os
import tempfile

from ..synth import MODES  # the four the fixtures were written for
from ..synth import synth_meta
from .tap import quiet

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
                # As scripts/guest/guest-bench.sh names its latency runs.
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



def synth_host_load(path):
    """A host busy until t=1168 (see synth_log): reps 0 and 1 and the
    first 11 runs of rep 2, from t=1144 to 1164: 36 + 11 measured runs, and
    rep 2 of contended/mprotect, whose stock run (t=1160) was busy and
    shadow run (t=1166) was not."""
    with open(path, "w") as f:
        f.writelines(f"{t}.0 {1.0 if t < 1168 else 0.0:.2f} 1.90\n"
                     for t in range(1000, 1600, 2))


def synth_dir(d):
    """The clean results directory: raw.log, path-raw.log, meta.txt and
    host-load.log."""
    synth_log(os.path.join(d, "raw.log"), fail=False)
    synth_path_log(os.path.join(d, "path-raw.log"))
    synth_meta(d, "accel: TCG\ncounter: perf instructions\n")
    synth_host_load(os.path.join(d, "host-load.log"))


_REPORT = {}


def synth_report():
    """The report of synth_dir, made once per process (about 2 s with the
    figures): (rc, state, stdout, stderr, directory). Read only."""
    if not _REPORT:
        from ..cli import report
        tmp = tempfile.TemporaryDirectory()     # removed at exit
        synth_dir(tmp.name)
        _REPORT["tmp"] = tmp
        _REPORT["out"] = quiet(report, tmp.name) + (tmp.name,)
    return _REPORT["out"]
