#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Count test results in TAP/KTAP output.

Usage: summarize.py TAP_FILE...

Each test case counts once: a kselftest program that reports its own cases
(nested "# ok N name" lines from kselftest_harness.h, or KTAP subtests from
KUnit) counts those cases; a program without nested results counts as one.
Prints one line per test and, last, "N passed, N failed, N skipped".
Exits 1 if anything failed or nothing ran.
"""

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
    print(f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped")
    if counts["failed"] or not leaves:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
