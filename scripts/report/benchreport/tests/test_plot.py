# SPDX-License-Identifier: GPL-2.0
"""plot: the figures, and the report without matplotlib."""

import importlib.util
import os
import subprocess
import sys

from ..cli import report
from .fixtures import synth_dir, synth_report
from .tap import quiet, unittest_case

SCRIPTS = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def figures(tap, d):
    rd = synth_report()[4]
    if importlib.util.find_spec("matplotlib") is None:
        tap.ok(True, "no matplotlib  # SKIP plots not tested")
        return
    tap.ok(os.path.getsize(os.path.join(rd, "bench.png")) > 10000 and
           os.path.getsize(os.path.join(rd, "path.png")) > 10000,
           "bench.png and path.png written")


def without_matplotlib(tap, d):
    code = ("import sys; sys.path.insert(0, sys.argv[1]); "
            "import benchreport.cli, benchreport.format; "
            "print(sorted(m for m in sys.modules if m == 'matplotlib'))")
    p = subprocess.run([sys.executable, "-c", code, SCRIPTS],
                       capture_output=True, text=True)
    tap.ok(p.returncode == 0 and p.stdout == "[]\n",
           f"the report's modules do not import matplotlib "
           f"({p.stdout.strip()} {p.stderr.strip()})")
    synth_dir(d)
    saved = {m: sys.modules.pop(m) for m in list(sys.modules)
             if m == "matplotlib" or m.startswith("matplotlib.")}
    sys.modules["matplotlib"] = None        # import matplotlib fails
    try:
        rc, _, text, err = quiet(report, d)
    finally:
        del sys.modules["matplotlib"]
        sys.modules.update(saved)
    tap.ok(rc == 0 and err.count("WARNING: no matplotlib") == 2 and
           os.path.getsize(os.path.join(d, "report.txt")) == len(text) and
           not os.path.exists(os.path.join(d, "bench.png")),
           "no matplotlib: a warning per figure, the text report all the same")


TESTS = [figures, without_matplotlib]
Test = unittest_case(TESTS)
