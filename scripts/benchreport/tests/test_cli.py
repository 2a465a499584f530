# SPDX-License-Identifier: GPL-2.0
"""cli and bench-report.py: exit status, errors, usage."""

import os

from .fixtures import synth_report
from .tap import quiet_main, unittest_case


def exit_status(tap, d):
    rc = synth_report()[0]
    tap.ok(rc == 0, f"clean logs: exit 0 (got {rc})")
    rc, _, err = quiet_main(os.path.join(d, "nope"))
    tap.ok(rc == 2 and "no such results directory" in err,
           "missing directory: exit 2, clear error")
    rc, _, err = quiet_main(d)
    tap.ok(rc == 2 and "neither raw.log nor path-raw.log" in err,
           "directory without logs: exit 2")
    rc, _, err = quiet_main("--compare", d)
    tap.ok(rc == 2 and "--compare" in err, "bad usage: exit 2, usage text")


TESTS = [exit_status]
Test = unittest_case(TESTS)
