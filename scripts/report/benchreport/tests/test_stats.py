# SPDX-License-Identifier: GPL-2.0
"""stats and analyse: the statistics on known numbers, then the ratios,
CIs and Holm's correction of the report of the fixtures' logs."""

import math
import random

import numpy as np
from scipy import stats

from ..common import NONE
from ..stats import fieller, holm, paired, table_mean, welch_delta, welch_ratio
from .fixtures import SYNTH, synth_report
from .tap import close, unittest_case


def paired_ratios(tap, d):
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


def fieller_welch(tap, d):
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


def means_holm_delta(tap, d):
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
    dl, h = welch_delta([10, 11, 12], [1, 2, 3])
    tap.ok(close(dl, 9.0, 1e-12) and close(h, stats.t.ppf(0.975, 4) *
                                           math.sqrt(2 / 3), 1e-9),
           "delta of Ameans with Welch half-width")


def report_ratios(tap, d):
    st = synth_report()[1]
    blocks = st["blocks"]
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
    tap.ok(close(lc["ratio"], 800 / 1000, 1e-12) and lc["significant"],
           "latency: ratio of Ameans 0.8, significant")
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


def report_path(tap, d):
    pb = synth_report()[1]["path"]
    p1 = pb[("path", "user-vmas1", 1, "insn_per_fault")]
    pc = p1["comps"][("shadow", NONE)]
    tap.ok(close(pc["delta"][0], 100.0, 1e-9) and
           close(pc["welch"]["ratio"], 1.1, 1e-9) and
           pc["welch"]["significant"] and ("mmap", NONE) not in p1["comps"],
           "path: delta +100 insn, ratio 1.1 vs none, significant")


TESTS = [paired_ratios, fieller_welch, means_holm_delta, report_ratios,
         report_path]
Test = unittest_case(TESTS)
