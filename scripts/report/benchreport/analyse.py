# SPDX-License-Identifier: GPL-2.0
"""The comparisons: blocks of results, the mode pairs compared in each.

A block is (scenario, variant, threads, metric); per block, each mode's
stats and the Welch and paired comparisons of the mode pairs (the report),
or each mode of two results directories, B against A (--compare).
"""

from collections import defaultdict

import pandas as pd

from .common import NONE, RATIOS, block_key, mode_order, order
from .parse import same_conditions
from .stats import Tests, describe, paired, welch_delta, welch_ratio


def pairs_for(present, modes):
    """The a/b comparisons among the modes present."""
    pairs = [(a, b) for a, b in RATIOS if a in present and b in present]
    if not pairs:
        first = [m for m in mode_order(modes) if m in present][:1]
        pairs = [(m, first[0]) for m in mode_order(modes)
                 if first and m in present and m != first[0]]
    return pairs


def analyse(df, tests, modes, scenarios, path=False):
    """Stats per block and mode, comparisons inside each block.

    Blocks are (scenario, variant, threads, metric). path=True: every mode
    against none, Welch only, with the delta of the Ameans.
    """
    blocks = {}
    if df.empty:
        return blocks
    keys = ["scenario", "variant", "threads", "metric"]
    groups = {k: g for k, g in df.groupby(keys, sort=False)}
    for k in sorted(groups, key=lambda k: block_key(k, scenarios)):
        g = groups[k]
        metric = k[3]
        samples = {m: g2["value"].to_numpy() for m, g2 in g.groupby("mode")}
        by_rep = {m: {int(r.rep): (r.value, r.host_load)
                      for r in g2.itertuples()}
                  for m, g2 in g.groupby("mode")}
        stats_ = {m: describe(metric, xs) for m, xs in samples.items()}
        where = dict(zip(keys, (k[0], k[1], str(k[2]), k[3])))
        comps = {}
        if path:
            pairs = [(m, NONE) for m in modes if m in samples and
                     NONE in samples]
        else:
            pairs = pairs_for(samples, modes)
        for a, b in pairs:
            c = {"welch": tests.add(welch_ratio(metric, samples[a],
                                                samples[b]),
                                    a=a, b=b, test="welch", **where)}
            if path:
                c["delta"] = welch_delta(samples[a], samples[b])
            else:
                ra, rb = by_rep[a], by_rep[b]
                reps = [r for r in ra if r in rb and
                        same_conditions(ra[r][1], rb[r][1])]
                c["paired"] = tests.add(
                    paired({r: ra[r][0] for r in reps},
                           {r: rb[r][0] for r in reps}),
                    a=a, b=b, test="paired", **where)
            comps[(a, b)] = c
        blocks[k] = {"unit": g["unit"].iloc[0], "stats": stats_,
                     "comps": comps}
    return blocks


def split_path(df):
    is_path = df["scenario"] == "path"
    return df[~is_path], df[is_path]


def group_blocks(blocks):
    """(scenario, variant, metric) -> threads -> block, in block order."""
    groups = {}
    for (scenario, variant, threads, metric), blk in blocks.items():
        groups.setdefault((scenario, variant, metric), {})[threads] = blk
    for g in groups.values():
        for t in sorted(g):
            g[t] = g.pop(t)
    return groups


def compare_results(a, b):
    """B against A (Results), same scenario/variant/threads/metric/mode.

    Returns {rows: (scenario, variant, metric) -> [(threads, mode, stats
    of A, stats of B, the Welch test of B/A)], tests, units, common: the
    keys in both, only_a, only_b: how many keys in one only}.
    """
    modes = list(dict.fromkeys(a.modes + b.modes))
    scenarios = list(dict.fromkeys(a.scenarios + b.scenarios))
    tests = Tests()
    keys = ["scenario", "variant", "threads", "metric", "mode"]
    ga = {k: g["value"].to_numpy() for k, g in a.df.groupby(keys)}
    gb = {k: g["value"].to_numpy() for k, g in b.df.groupby(keys)}
    units = {k[:4]: u for k, u in
             pd.concat([a.df, b.df]).groupby(keys)["unit"].first().items()}
    common = sorted(set(ga) & set(gb), key=lambda k: (
        block_key(k[:4], scenarios), order(k[4], mode_order(modes))))
    rows = defaultdict(list)    # (scenario, variant, metric) -> rows
    for k in common:
        scenario, variant, threads, metric, mode = k
        sa, sb = describe(metric, ga[k]), describe(metric, gb[k])
        t = tests.add(welch_ratio(metric, gb[k], ga[k]), a="B", b="A",
                      test="welch", scenario=scenario, variant=variant,
                      threads=str(threads), metric=f"{metric} {mode}")
        rows[(scenario, variant, metric)].append((threads, mode, sa, sb, t))
    tests.correct()
    return {"rows": rows, "tests": tests, "units": units, "common": common,
            "only_a": len(set(ga) - set(gb)), "only_b": len(set(gb) - set(ga))}
