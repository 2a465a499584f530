#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Count test results in TAP/KTAP output.

Usage: summarize.py TAP_FILE...

Each test case counts once: a kselftest program that reports its own cases
(nested "# ok N name" lines from kselftest_harness.h, or KTAP subtests from
KUnit) counts those cases; a program without nested results counts as one.
Prints one line per test, then a matrix of the per-mode tests (fixture
variants named after the modes: one row per test, one column per mode) and,
last, "N passed, N failed, N skipped".
Exits 1 if anything failed or nothing ran.
"""

import os
import re
import sys

RESULT = re.compile(r"^(?P<indent>(?:#\s*|\s+)*)(?P<not>not )?ok (?P<num>\d+)\s*-?\s*(?P<name>[^#]*?)\s*(?:#\s*(?P<directive>\w+)\b(?P<reason>.*))?$")


def classify(m):
    if m.group("not"):
        d = (m.group("directive") or "").upper()
        # "not ok ... # TODO" is an expected failure in TAP: not a pass.
        return "failed" if d != "SKIP" else "skipped"
    d = (m.group("directive") or "").upper()
    return "skipped" if d == "SKIP" else "passed"


def depth(indent):
    # kselftest nests with "# ", KTAP with 4 spaces; either is one level.
    return indent.count("#") + indent.count("    ")


def parse(lines):
    """Return [(name, outcome)] for the leaves of the result tree."""
    leaves = []
    pending = {}  # depth -> list of leaves collected below that depth
    for line in lines:
        line = line.rstrip("\n")
        # kselftest runner prefixes a program's output with "# ".
        m = RESULT.match(line)
        if not m:
            continue
        d = depth(m.group("indent"))
        name = m.group("name").strip()
        outcome = classify(m)
        children = []
        for k in sorted(list(pending)):
            if k > d:
                children.extend(pending.pop(k))
        if children:
            # A parent that failed with all children passing (a crash after
            # the last case, a timeout) still fails once.
            if outcome == "failed" and all(o != "failed" for _, o in children):
                children.append((name, "failed"))
            entries = children
        else:
            entries = [(name, outcome)]
        pending.setdefault(d, []).extend(entries)
    for k in sorted(pending):
        leaves.extend(pending[k])
    return leaves


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchreport.common import MODES  # noqa: E402  (scripts/modes)
MARK = {"passed": "ok", "failed": "FAIL", "skipped": "skip"}


def mode_matrix(leaves):
    """Lines of a test x mode table for names like fixture.MODE.test."""
    rows = {}
    for name, outcome in leaves:
        parts = name.split(".")
        if len(parts) == 3 and parts[1] in MODES:
            rows.setdefault(f"{parts[0]}.{parts[2]}", {})[parts[1]] = outcome
    if not rows:
        return []
    width = max(len(r) for r in rows)
    lines = [f"{'per mode':{width}}  " + "  ".join(f"{m:>6}" for m in MODES)]
    for row, by_mode in rows.items():
        cells = (MARK.get(by_mode.get(m), "-") for m in MODES)
        lines.append(f"{row:{width}}  " + "  ".join(f"{c:>6}" for c in cells))
    totals = []
    for m in MODES:
        n = [o for r in rows.values() for k, o in r.items() if k == m]
        totals.append(f"{m} {n.count('passed')}/{len(n)}")
    lines.append(f"{'passed per mode':{width}}  " + ", ".join(totals))
    return lines


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    leaves = []
    for path in argv[1:]:
        try:
            with open(path, errors="replace") as f:
                leaves.extend(parse(f))
        except OSError as e:
            print(f"summarize: {e}", file=sys.stderr)
            return 2
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    for name, outcome in leaves:
        counts[outcome] += 1
        print(f"{outcome.upper():8} {name}")
    for line in mode_matrix(leaves):
        print(line)
    print(f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped")
    if counts["failed"] or not leaves:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
