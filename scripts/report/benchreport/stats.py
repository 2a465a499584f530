# SPDX-License-Identifier: GPL-2.0
"""The statistics: table means, Fieller/Welch ratios, paired ratios, Holm.

Pure functions of numbers (numpy, scipy); nothing here knows about logs,
files or text.
"""

import contextlib
import math
import warnings

import numpy as np
from scipy import stats

from .common import ALPHA, CONF, higher_is_better, mean_kind


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
