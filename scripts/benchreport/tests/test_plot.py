# SPDX-License-Identifier: GPL-2.0
"""plot: the figures."""

import importlib.util
import os

from .fixtures import synth_report
from .tap import unittest_case


def figures(tap, d):
    rd = synth_report()[4]
    if importlib.util.find_spec("matplotlib") is None:
        tap.ok(True, "no matplotlib  # SKIP plots not tested")
        return
    tap.ok(os.path.getsize(os.path.join(rd, "bench.png")) > 10000 and
           os.path.getsize(os.path.join(rd, "path.png")) > 10000,
           "bench.png and path.png written")


TESTS = [figures]
Test = unittest_case(TESTS)
