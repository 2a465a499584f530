#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Tables, ratios with confidence intervals and figures from vmashadow benches.

Usage: bench-report.py RESULTS_DIR
       bench-report.py --compare DIR_A DIR_B
       bench-report.py --synth DIR [SEED]
       bench-report.py --self-test

The command of the benchreport package next to it (scripts/report/benchreport/):
the log grammar, outputs and exit status are in benchreport/cli.py.
"""

import os
import sys

sys.dont_write_bytecode = True      # no __pycache__ in the clone (root runs)
sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))

from benchreport.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv))
