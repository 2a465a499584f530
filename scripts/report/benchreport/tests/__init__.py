# SPDX-License-Identifier: GPL-2.0
"""The bench report's self-test: bench-report.py --self-test prints TAP
(make bench-report-test, CI); from scripts/report/, python -m unittest
runs the same tests. One file per module of the package; fixtures.py has
the logs.
"""


def self_test():
    """Every test file's tests as one TAP run; returns the exit status."""
    from . import (test_cli, test_compare, test_format, test_parse,
                   test_plot, test_stats, test_synth)
    from .tap import run_tap
    return run_tap([test_stats, test_parse, test_format, test_plot,
                    test_compare, test_cli, test_synth])
