#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Summarize the upstream suites' runs (scripts/guest/guest-stress.sh).

Usage: stress-summary.py RESULTS_DIR

Reads every BOOT/stress.tsv under RESULTS_DIR (one per guest boot) and
each boot's verdict (guest-rc, splats.txt), and prints:

- a tool x mode table: passed/failed/skipped per cell;
- the comparison with stock: a test that passes in stock and fails in
  another mode (the module's or the hook's fault until shown otherwise),
  and the tests that fail in stock too (not the module's);
- every failure with its detail, every skip with its reason (once per
  test when it is the same in every mode);
- the boots: completed or not, splats;
- last, "N passed, N failed, N skipped" (a boot that did not complete or
  logged a splat counts as a failure).

Exits 1 if anything failed or nothing ran.
"""

import csv
import os
import sys

MODES = ("stock", "pervma", "shadow", "spec", "mmap", "all")
TOOLS = ("mm", "stress-ng", "trinity", "failinject", "kmemleak")


def read_boot(path):
    rows = []
    with open(path, newline="", errors="replace") as f:
        for r in csv.DictReader(f, delimiter="\t"):
            if r.get("result") in ("passed", "failed", "skipped"):
                rows.append(r)
    return rows


def boot_verdict(d):
    """(completed, [splat lines]) of one boot's directory."""
    rc = os.path.join(d, "guest-rc")
    done = os.path.exists(rc)
    splats = []
    p = os.path.join(d, "splats.txt")
    if os.path.exists(p):
        with open(p, errors="replace") as f:
            splats = [line.rstrip("\n") for line in f if line.strip()]
    return done, splats


def main(argv):
    if len(argv) != 2 or not os.path.isdir(argv[1]):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    top = argv[1]
    rows, boots = [], []
    for name in sorted(os.listdir(top)):
        d = os.path.join(top, name)
        tsv = os.path.join(d, "stress.tsv")
        if not os.path.isdir(d) or os.path.islink(d):
            continue
        if not os.path.exists(tsv) and not os.path.exists(os.path.join(d, "console.log")):
            continue
        for r in read_boot(tsv) if os.path.exists(tsv) else []:
            r["boot"] = name
            rows.append(r)
        boots.append((name,) + boot_verdict(d))

    counts = {}
    for r in rows:
        c = counts.setdefault((r["tool"], r["mode"]), {"passed": 0, "failed": 0, "skipped": 0})
        c[r["result"]] += 1
    tools = [t for t in TOOLS if any(k[0] == t for k in counts)]
    tools += sorted({k[0] for k in counts} - set(tools))
    modes = [m for m in MODES if any(k[1] == m for k in counts)]
    print("passed/failed/skipped per tool and mode")
    w = max([len(t) for t in tools] + [10])
    print(f"{'tool':{w}}  " + "  ".join(f"{m:>12}" for m in modes))
    for t in tools:
        cells = []
        for m in modes:
            c = counts.get((t, m))
            cells.append(f"{c['passed']}/{c['failed']}/{c['skipped']}" if c else "-")
        print(f"{t:{w}}  " + "  ".join(f"{c:>12}" for c in cells))

    # The comparison with stock, test by test.
    by_test = {}
    for r in rows:
        by_test.setdefault((r["tool"], r["name"]), {})[r["mode"]] = r
    mode_only, everywhere = [], []
    for (tool, name), ms in sorted(by_test.items()):
        stock = ms.get("stock")
        for m, r in ms.items():
            if m == "stock" or r["result"] != "failed":
                continue
            if stock and stock["result"] == "passed":
                mode_only.append(f"{tool}.{m}.{name}: passes in stock, fails in {m}: {r['detail']}")
            elif stock and stock["result"] == "failed":
                everywhere.append(f"{tool}.{m}.{name}: fails in stock too")
    print()
    print("against stock:")
    if mode_only:
        for line in mode_only:
            print(f"  MODULE? {line}")
    else:
        print("  no test that passes in stock fails in another mode")
    for line in everywhere:
        print(f"  not the module's: {line}")

    failed = [r for r in rows if r["result"] == "failed"]
    if failed:
        print()
        print("failures:")
        for r in failed:
            print(f"  {r['tool']}.{r['mode']}.{r['name']} ({r['seconds']}s): {r['detail']}")
    skipped = {}
    for r in rows:
        if r["result"] == "skipped":
            skipped.setdefault((r["tool"], r["name"], r["detail"]), []).append(r["mode"])
    if skipped:
        print()
        print("skipped, with the reason:")
        for (tool, name, why), ms in sorted(skipped.items()):
            print(f"  {tool}.{name} [{','.join(ms)}]: {why}")

    print()
    print("boots:")
    bad_boots = 0
    for name, done, splats in boots:
        state = "completed" if done else "DID NOT COMPLETE (see its console.log)"
        print(f"  {name}: {state}, {len(splats)} splat lines")
        for s in splats:
            print(f"    {s}")
        if not done or splats:
            bad_boots += 1
    secs = sum(int(r["seconds"] or 0) for r in rows)
    print(f"  {len(rows)} results, {secs}s of test time")

    n = {k: sum(1 for r in rows if r["result"] == k) for k in ("passed", "failed", "skipped")}
    n["failed"] += bad_boots
    print(f"{n['passed']} passed, {n['failed']} failed, {n['skipped']} skipped")
    return 1 if n["failed"] or not rows else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
