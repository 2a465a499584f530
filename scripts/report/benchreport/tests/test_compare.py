# SPDX-License-Identifier: GPL-2.0
"""--compare: two results directories, B against A."""

import os
import re

from ..cli import compare
from ..parse import parse_fields
from ..synth import synth_meta
from .fixtures import synth_log
from .tap import close, quiet, quiet_main, unittest_case


def b_against_a(tap, d):
    a, b = os.path.join(d, "a"), os.path.join(d, "b")
    for x in (a, b):
        os.makedirs(x)
    synth_log(os.path.join(a, "raw.log"), fail=False)
    synth_meta(a, "accel: KVM\n")
    # B: shadow 10% faster everywhere, in a different commit.
    with open(os.path.join(a, "raw.log")) as f, \
            open(os.path.join(b, "raw.log"), "w") as g:
        run = None
        for line in f:
            if line.startswith("RUN "):
                run = parse_fields(line[4:])
            m = re.search(r"value=(\S+)", line)
            if m and run["mode"] == "shadow" and "RESULT" in line:
                v = float(m.group(1))
                line = line.replace(m.group(0), f"value={v * 1.1:.2f}")
            g.write(line)
    synth_meta(b, "accel: KVM\nextra: only in B\n")
    with open(os.path.join(b, "meta.txt")) as f:
        meta = f.read().replace("822fb66-dirty", "9abcdef")
    with open(os.path.join(b, "meta.txt"), "w") as f:
        f.write(meta)
    rc, st, text, _ = quiet(compare, a, b)
    tap.ok(rc == 0, f"compare: exit 0 (got {rc})")
    rows = st["rows"][("contended", "munmap", "faults_per_sec")]
    sh = next(r for r in rows if r[:2] == (2, "shadow"))[4]
    st_ = next(r for r in rows if r[:2] == (2, "stock"))[4]
    tap.ok(close(sh["ratio"], 1.1, 1e-3) and sh["significant"] and
           close(st_["ratio"], 1.0, 1e-12) and not st_["significant"],
           "compare: shadow B/A 1.1 significant, stock 1.0 not")
    tap.ok(re.search(r"^git: +822fb66-dirty +9abcdef  \(differs\)$", text,
                     re.MULTILINE) and
           re.search(r"^extra: +- +only in B", text, re.MULTILINE),
           "compare: metadata side by side")
    tap.ok(re.search(r"^  2 shadow +120\.00 +5 +0\.\d\d +132\.00 +5 +0\.\d\d +"
                     r"1\.100\* \[", text, re.MULTILINE) is not None,
           "compare: row with both means, N, CoeffVar, B/A*, CI")
    rc, _, err = quiet_main("--compare", a, os.path.join(d, "c"))
    tap.ok(rc == 2 and "no such results directory" in err,
           "compare: missing B: exit 2")


TESTS = [b_against_a]
Test = unittest_case(TESTS)
