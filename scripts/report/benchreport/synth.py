# SPDX-License-Identifier: GPL-2.0
"""Synthetic results directories: fake but realistic data (--synth), and
the meta.txt the self-test's fixtures share.
"""

import math
import os
import random

from .common import NONE, higher_is_better

# The synthetic runs predate spec; their expected outputs are fixed.
MODES = ["stock", "mmap", "pervma", "shadow"]


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
