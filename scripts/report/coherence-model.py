#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""What 128 cores would see: a paper projection from the coherence bench.

    scripts/report/coherence-model.py [options] RESULTS_DIR

Reads RESULTS_DIR/summary.csv (make bench-coherence,
scripts/report/coherence-report.py) and prints, per mode, the projected
page faults per second per CPU at N = 1 .. 128 CPUs all faulting one VMA
(the pft scenario), as docs/coherence-model.md explains:

    T(N) = max( T1(mode) + X(N) * t_transfer ,  N * K * t_transfer )
    faults/s per CPU = 1 / T(N)

    T1(mode) = T1 * insns(mode) / insns(pervma)    the uncontended fault,
               calibrated on the published 1-thread pervma point (T1 =
               1e9 / 1.95e6 ns) and scaled by the measured instructions
    K        = the atomics per fault in the lock functions (vm_refcnt's
               in pervma and shadow, mmap_lock's count in mmap, both in
               stock and none): every one is an access to the one lock word
               all faulters of the VMA share; on hardware with N >= 2
               faulters each finds the line in another core's cache (they
               took it in between), so each is a transfer, whatever N
    X(N)     = 0 at N = 1; for N >= 2, K plus (--with-other) the measured
               "other" transfers per fault at --ref-vcpus (page allocator,
               LRU, page tables: lines moved as TCG interleaved them, a
               floor); never the "data" ones (page contents, a cost already
               inside T1, which was measured with pages being zeroed) nor
               the "tick" ones (the timer's work, per unit of time: under
               TCG a fault lasts ~100 times longer than on hardware)
    N*K*t    = the lock word is one line: N faulters take it in turn, so
               all together they cannot fault faster than 1 / (K * t)

Options:
    --t-transfer NS   core-to-core transfer time (default 79.5: AMD Zen 4,
                      Ryzen 9 7950X, between CCDs, AnandTech's measurement;
                      15-19 within one CCD)
    --t1 NS           the 1-thread pervma fault (default 512.8 = 1/1.95 M/s)
    --scenario S      default pft
    --ref-vcpus V     the vCPU count whose counts are used (default 2: the
                      only one where every vCPU has a host core, under MTTCG
                      the finest interleaving this host gives)
    --with-other      add the measured "other" transfers to X(N)
    --csv             the table as CSV

Python 3 standard library only.
"""

import csv
import os
import sys

NS = (1, 2, 4, 8, 16, 32, 64, 128)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchreport.common import MODES as _MODES  # noqa: E402  (scripts/modes)

MODES = ("none", *_MODES)
PUBLISHED = {1: 1.95, 4: 0.66}  # M faults/s per CPU, pervma, Zen 5, pft threads


def die(msg, code=2):
    print(f"coherence-model: {msg}", file=sys.stderr)
    sys.exit(code)


def main(argv):
    opts = {"t-transfer": 79.5, "t1": 1e9 / 1.95e6, "scenario": "pft", "ref-vcpus": 2}
    as_csv = False
    with_other = False
    args = argv[1:]
    pos = []
    while args:
        a = args.pop(0)
        if a == "--csv":
            as_csv = True
        elif a == "--with-other":
            with_other = True
        elif a.startswith("--") and a[2:] in opts:
            if not args:
                die(f"{a} needs a value")
            v = args.pop(0)
            try:
                opts[a[2:]] = v if a == "--scenario" else (int(v) if a == "--ref-vcpus" else float(v))
            except ValueError:
                die(f"{a}: not a number: {v}")
            if a != "--scenario" and opts[a[2:]] <= 0:
                die(f"{a} must be positive")
        elif a in ("-h", "--help"):
            print(__doc__)
            return 0
        elif a.startswith("-"):
            die(f"unknown option {a} (see --help)")
        else:
            pos.append(a)
    if len(pos) != 1:
        die("usage: coherence-model.py [--t-transfer NS] [--t1 NS] [--scenario S] [--ref-vcpus V] [--csv] RESULTS_DIR")
    path = os.path.join(pos[0], "summary.csv")
    if not os.path.exists(path):
        die(f"{path}: no such file (run make bench-coherence, or scripts/report/coherence-report.py DIR)")
    rows = {}
    with open(path) as f:
        for r in csv.DictReader(f):
            if r["scenario"] == opts["scenario"] and int(r["vcpus"]) == opts["ref-vcpus"]:
                rows[r["mode"]] = r
    if "pervma" not in rows:
        die(f"{path}: no pervma row for {opts['scenario']} at {opts['ref-vcpus']} vCPUs")
    tx, t1 = opts["t-transfer"], opts["t1"]
    i_ref = float(rows["pervma"]["insns_mean"])
    out = []
    for mode in MODES:
        if mode not in rows:
            continue
        r = rows[mode]
        insns = float(r["insns_mean"])
        k = float(r["lock_atomics_mean"])
        seen = float(r["lock_transfers_mean"])
        other = float(r["other_transfers_mean"]) if with_other else 0.0
        t1m = t1 * insns / i_ref
        proj = []
        for n in NS:
            x = 0.0 if n == 1 else k + other
            t = max(t1m + x * tx, n * k * tx)
            proj.append(1e3 / t)  # M faults/s per CPU
        out.append((mode, insns, k, seen, other, t1m, proj))
    if as_csv:
        w = csv.writer(sys.stdout)
        w.writerow(["mode", "insns_per_fault", "k_lock_atomics", "lock_transfers_seen", "other_transfers",
                    "t1_ns"] + [f"mfaults_per_cpu_n{n}" for n in NS])
        for mode, insns, k, seen, other, t1m, proj in out:
            w.writerow([mode, f"{insns:.0f}", f"{k:.3f}", f"{seen:.3f}", f"{other:.3f}", f"{t1m:.1f}"]
                       + [f"{p:.3f}" for p in proj])
        return 0
    print(f"Projection: {opts['scenario']}, counts of {opts['ref-vcpus']} vCPUs from {pos[0]}; "
          f"t_transfer {tx:g} ns, T1(pervma) {t1:.1f} ns, X = K{' + other' if with_other else ''}")
    print("M faults/s per CPU at N CPUs all faulting one VMA (K: lock-word atomics per fault;")
    print("seen: the lock functions' transfers per fault TCG produced; other: added to X if --with-other)")
    print(f"{'mode':<8}{'insns':>8}{'K':>6}{'seen':>6}{'other':>7}{'T1 ns':>7} "
          + "".join(f"{'N=' + str(n):>7}" for n in NS))
    for mode, insns, k, seen, other, t1m, proj in out:
        print(f"{mode:<8}{insns:>8.0f}{k:>6.2f}{seen:>6.2f}{other:>7.2f}{t1m:>7.0f} "
              + "".join(f"{p:>7.3f}" for p in proj))
    print(f"{'published pervma (Zen 5, 6.14 per-VMA refcount series v10 review)':<48}"
          + "".join(f"  N={n}: {v:.2f}" for n, v in PUBLISHED.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
