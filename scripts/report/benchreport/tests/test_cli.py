# SPDX-License-Identifier: GPL-2.0
"""cli and bench-report.py: exit status, errors, usage."""

import os
import subprocess
import sys

from .fixtures import synth_report
from .tap import quiet_main, unittest_case

COMMAND = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "bench-report.py")


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
    bad = [args for args in ([], ["-x"], ["a", "b"], ["--synth"],
                             ["--synth", d, "seven"], ["--self-test", "x"])
           if quiet_main(*args)[:2] != (2, "")]
    tap.ok(not bad, f"other bad usages: exit 2, nothing on stdout ({bad})")


def command(tap, d):
    """The thin command, run as make bench runs it, from elsewhere."""
    out = os.path.join(d, "synth")
    p = subprocess.run([sys.executable, COMMAND, "--synth", out, "2"],
                       cwd="/", capture_output=True, text=True)
    tap.ok(p.returncode == 0 and p.stdout == f"bench-report: synthetic "
           f"results in {out}\n" and
           os.path.isfile(os.path.join(out, "path-raw.log")),
           f"bench-report.py --synth DIR SEED from / (rc {p.returncode}, "
           f"{p.stderr.strip()})")


TESTS = [exit_status, command]
Test = unittest_case(TESTS)
