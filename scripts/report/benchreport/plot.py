# SPDX-License-Identifier: GPL-2.0
"""The figures: bench.png (throughputs) and path.png (instructions per
fault against the number of VMAs).

matplotlib is imported only when a figure is drawn, and only here: without
it the report warns and writes everything else.
"""

import math
import os
import sys

from .analyse import group_blocks
from .common import (DEFAULT_THREADS, block_name, higher_is_better,
                     mode_order, path_case)

COLORS = {"none": "#000000", "stock": "#777777", "mmap": "#d62728",
          "pervma": "#1f77b4", "shadow": "#2ca02c",
          "spec": "#9467bd"}


def pyplot(path):
    if os.environ.get("VMASHADOW_PLOTS") == "0":
        # make bench-host-test: matplotlib under TCG takes most of an hour.
        print(f"bench-report: VMASHADOW_PLOTS=0: {path} not written",
              file=sys.stderr)
        return None
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        print(f"bench-report: WARNING: no matplotlib ({e}): {path} not "
              f"written; everything else was.", file=sys.stderr)
        return None
    return plt


def plot_threads(scenario, threads_present):
    want = DEFAULT_THREADS.get(scenario, 2)
    return want if want in threads_present else min(threads_present)


def title(meta):
    return (f"kernel {meta.get('kernel', 'unknown')}, "
            f"{meta.get('accel', 'unknown accel')}, "
            f"{meta.get('vcpus', '?')} vCPUs, git {meta.get('git', '?')}")


def write_plot(path, meta, blocks, modes):
    groups = {k: v for k, v in group_blocks(blocks).items()
              if higher_is_better(k[2])}
    if not groups:
        return False
    plt = pyplot(path)
    if plt is None:
        return False
    fig, ax_iter = subplot_grid(plt, len(groups), 3, 5, 3.6)
    for (scenario, variant, metric), by_threads in groups.items():
        ax = next(ax_iter)
        name = block_name(scenario, variant)
        if len(by_threads) > 1:
            plot_lines(ax, by_threads, modes)
            ax.set_title(f"{name}: {metric} vs threads", fontsize=9)
        else:
            threads = plot_threads(scenario, list(by_threads))
            plot_bars(ax, by_threads[threads], modes)
            ax.set_title(f"{name}, threads={threads}\n{metric} "
                         f"(x = vs stock)", fontsize=9)
        ax.set_ylabel(next(iter(by_threads.values()))["unit"])
    for ax in ax_iter:
        ax.set_visible(False)
    fig.suptitle(f"vmashadow benches: {title(meta)} (Hmean, error bars: "
                 f"stddev)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def error_bar(s):
    """A mode's stddev as an error bar: 0 for a single run."""
    return 0.0 if math.isnan(s["stddev"]) else s["stddev"]


def plot_bars(ax, blk, modes):
    present = [m for m in mode_order(modes) if m in blk["stats"]]
    h = [blk["stats"][m]["mean"] for m in present]
    sd = [error_bar(blk["stats"][m]) for m in present]
    ax.bar(present, h, yerr=sd, capsize=4,
           color=[COLORS.get(m, "#9467bd") for m in present])
    stock = blk["stats"].get("stock", {}).get("mean")
    if stock:
        for i, (v, e) in enumerate(zip(h, sd)):
            ax.annotate(f"{v / stock:.2f}x", (i, v + e), ha="center",
                        va="bottom", fontsize=8, xytext=(0, 3),
                        textcoords="offset points")
    tops = [v + e for v, e in zip(h, sd) if math.isfinite(v + e)]
    if tops and max(tops) > 0:
        ax.set_ylim(0, max(tops) * 1.15)


def subplot_grid(plt, n, max_cols, width, height):
    """A figure of n panels, at most max_cols a row; returns it and an
    iterator over its axes in order."""
    cols = min(max_cols, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows),
                             squeeze=False)
    return fig, iter(axes.flat)


def plot_modes(ax, by_x, modes):
    """One line per mode through its means at each x, stddev as error bars."""
    for m in mode_order(modes):
        xs = [x for x in sorted(by_x) if m in by_x[x]["stats"]]
        if not xs:
            continue
        st = [by_x[x]["stats"][m] for x in xs]
        ax.errorbar(xs, [s["mean"] for s in st],
                    yerr=[error_bar(s) for s in st],
                    marker="o", capsize=3, label=m,
                    color=COLORS.get(m, "#9467bd"))


def plot_lines(ax, by_threads, modes):
    plot_modes(ax, by_threads, modes)
    ax.set_xticks(sorted(by_threads))
    ax.set_ylim(bottom=0)
    ax.set_xlabel("threads")
    ax.legend(fontsize=8)


def write_path_plot(path, meta, blocks, modes):
    if not blocks:
        return False
    plt = pyplot(path)
    if plt is None:
        return False
    cases = {}
    for (_, variant, threads, metric), blk in blocks.items():
        case, n = path_case(variant)
        if n is not None:
            cases.setdefault((case, threads, metric), {})[n] = blk
    if not cases:
        return False
    fig, ax_iter = subplot_grid(plt, len(cases), 2, 6, 4)
    for (case, threads, metric), by_n in cases.items():
        ax = next(ax_iter)
        ns = sorted(by_n)
        plot_modes(ax, by_n, modes)
        ax.set_xscale("log")
        ax.minorticks_off()
        ax.set_xticks(ns)
        ax.set_xticklabels([str(n) for n in ns])
        ax.set_xlabel("VMAs in the process (N)")
        ax.set_ylabel(by_n[ns[0]]["unit"] + " per fault")
        tail = f", threads={threads}" if threads != 1 else ""
        ax.set_title(f"path case={case}{tail}: {metric}", fontsize=9)
        ax.legend(fontsize=8)
    for ax in ax_iter:
        ax.set_visible(False)
    fig.suptitle(f"vmashadow fault path: {title(meta)} (Amean, error bars: "
                 f"stddev)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True
