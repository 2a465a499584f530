# SPDX-License-Identifier: GPL-2.0
"""The self-test's harness: TAP lines for bench-report.py --self-test,
unittest test cases for python -m unittest, from the same test functions.

A test function takes (tap, d), d a fresh temporary directory, and calls
tap.ok(condition, description) once per TAP test.
"""

import contextlib
import io
import tempfile
import unittest
import warnings


class Tap:
    """Counts and prints TAP lines; with a TestCase, reports subtests."""

    def __init__(self, case=None):
        self.n = 0
        self.failed = 0
        self.case = case

    def ok(self, cond, desc):
        self.n += 1
        if not cond:
            self.failed += 1
        if self.case is None:
            print(f"{'ok' if cond else 'not ok'} {self.n} {desc}")
        else:
            with self.case.subTest(desc):
                self.case.assertTrue(cond, desc)
        return cond


def close(a, b, tol):
    return a is not None and abs(a - b) <= tol


def quiet(fn, *args):
    """fn(*args) -> (rc, state) with stdout and stderr captured: returns
    (rc, state, stdout, stderr)."""
    out = io.StringIO()
    err = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc, state = fn(*args)
    return rc, state, out.getvalue(), err.getvalue()


def quiet_main(*args):
    """cli.main on args (no program name) -> (rc, stdout, stderr)."""
    from ..cli import main
    rc, _, out, err = quiet(lambda: (main(["bench-report.py", *args]), None))
    return rc, out, err


def run(fn, tap):
    """One test function, RuntimeWarnings (scipy, numpy) as errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with tempfile.TemporaryDirectory() as d:
            fn(tap, d)


def run_tap(modules):
    """Every test function of the modules (their TESTS) as one TAP run;
    returns the exit status."""
    tap = Tap()
    for m in modules:
        for fn in m.TESTS:
            run(fn, tap)
    print(f"1..{tap.n}")
    return 1 if tap.failed else 0


def unittest_case(tests):
    """A unittest.TestCase with a test method per test function and a
    subtest per tap.ok()."""
    ns = {"__module__": tests[0].__module__}
    for fn in tests:
        def method(self, fn=fn):
            run(fn, Tap(self))
        method.__doc__ = fn.__doc__
        ns[f"test_{fn.__name__}"] = method
    return type("Test", (unittest.TestCase,), ns)
