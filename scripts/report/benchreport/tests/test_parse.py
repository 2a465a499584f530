# SPDX-License-Identifier: GPL-2.0
"""parse: the log grammar, its problems (with file and line), failed runs,
warm-up, meta.txt and host-load.log."""

import os
import re

from ..cli import report
from ..common import MODES
from ..parse import meta_list, parse_log, read_host_load
from .fixtures import synth_log, synth_report
from .tap import quiet, unittest_case


def report_parse(tap, d):
    _, st, text, _, _ = synth_report()
    blocks = st["blocks"]
    lat = blocks[("contended", "munmap", 2, "lat_p50_ns")]
    tap.ok(lat["stats"]["shadow"]["runs"] == 5 and
           lat["stats"]["shadow"]["kind"] == "Amean",
           "RUN scenario=latency takes RESULT scenario=contended lat_*, Amean")
    tap.ok("1e9" not in text and "1000000000" not in text and
           "1000000.0" not in text, "warm-up values are nowhere in the report")
    m = re.search(r"^host load: .* busy with 0\.28 CPUs of other work on "
                  r"average \(max 1\.00\); more than 0\.25 for 28% of the "
                  r"300 samples\.\n(\d+) of 210 measured runs overlapped",
                  text, re.MULTILINE)
    tap.ok(m is not None and m.group(1) == "47",
           f"host load summary: 47 measured runs disturbed "
           f"(got {m.group(1) if m else None})")


def failures(tap, d):
    synth_log(os.path.join(d, "raw.log"), fail=True)
    rc, st, text, err = quiet(report, d)
    tap.ok(rc == 1 and "see" in err, f"FAIL line: exit 1 (got {rc})")
    tap.ok("!!! 2 FAILED RUNS" in text and
           "FAIL: raw.log: FAIL rep=3 mode=mmap scenario=scale" in text,
           "report shows the failure loudly")
    tap.ok(st["blocks"][("scale", "-", 1, "faults_per_sec")]["stats"]["mmap"]
           ["runs"] == 4, "the failed run's results are not counted")
    tap.ok(os.path.exists(os.path.join(d, "summary.csv")),
           "everything is written despite the failure")
    with open(os.path.join(d, "raw.log"), "a") as f:
        f.write("RUN rep=1 mode=bogus scenario=x variant=- threads=1\n"
                "RESULT scenario=scale variant=- threads=1 metric=m unit=u "
                "value=abc faults=1 touched=1\n")
    rc, _, text, _ = quiet(report, d)
    with open(os.path.join(d, "raw.log")) as f:
        n = sum(1 for _ in f)
    tap.ok(rc == 1 and f"PROBLEM: raw.log line {n - 1}: RUN with unknown "
           f"mode 'bogus'" in text and f"PROBLEM: raw.log line {n}: RESULT "
           f"with a non-numeric value" in text,
           "malformed lines reported with file and line number")


# (log lines, the one problem they make): every message of check_line.
RUN = "RUN rep=1 mode=shadow scenario=scale variant=- threads=1"
RESULT = ("RESULT scenario=scale variant=- threads=1 metric=faults_per_sec "
          "unit=faults/s")
PROBLEMS = [
    (["RUN rep=1 mode=shadow"], "RUN without scenario, variant, threads"),
    (["RUN rep=x mode=shadow scenario=scale variant=- threads=1"],
     "RUN with a bad rep or threads"),
    (["RUN rep=1 mode=bogus scenario=scale variant=- threads=1"],
     "RUN with unknown mode 'bogus' (known: stock mmap pervma shadow spec none)"),
    ([RUN, f"{RESULT} value=1 faults=1 touched=1",
      "FAIL rep=1 mode=shadow scenario=scale variant=- threads=1"],
     "FAIL without rc"),
    ([RUN, f"{RESULT} value=1 faults=1 touched=1",
      "FAIL rep=1 mode=x scenario=scale variant=- threads=1 rc=1"],
     "FAIL with unknown mode 'x'"),
    ([RUN, f"{RESULT} value=1", f"{RESULT} value=1 faults=1 touched=1"],
     "RESULT without faults, touched"),
    ([RUN, f"{RESULT} value=1 faults=1.5 touched=1",
      f"{RESULT} value=1 faults=1 touched=1"],
     "RESULT with a non-numeric value, faults or touched: 1 1.5 1"),
    ([RUN, f"{RESULT} value=nan faults=1 touched=1",
      f"{RESULT} value=1 faults=1 touched=1"], "RESULT value nan"),
    ([f"{RESULT} value=1 faults=1 touched=1"], "RESULT before any RUN line"),
    # The numbers are checked before the RUN line is looked for.
    ([f"{RESULT} value=x faults=1 touched=1"], "RESULT with a non-numeric"),
    ([RUN, f"{RESULT.replace('threads=1', 'threads=2')} value=1 faults=1 "
      f"touched=1", f"{RESULT} value=1 faults=1 touched=1"],
     "RESULT threads=2 in a RUN with threads=1"),
    (["DIAG scenario=scale variant=- x=abc"], "DIAG without threads"),
    # DIAG: the RUN line first, then the numbers.
    (["DIAG scenario=scale variant=- threads=1 x=abc"],
     "DIAG before any RUN line"),
    ([RUN, f"{RESULT} value=1 faults=1 touched=1",
      "DIAG scenario=scale variant=- threads=1 x=abc"],
     "DIAG x=abc is not a number"),
    ([RUN, f"{RESULT} value=1 faults=1 touched=1",
      "DIAG scenario=scale variant=- threads=1 x=1 y=inf"], "DIAG y=inf"),
    ([RUN], "raw.log: run without results and without FAIL: rep=1 "
     "mode=shadow scenario=scale variant=- threads=1"),
]


def problems(tap, d):
    bad = []
    for lines, want in PROBLEMS:
        log = parse_log(lines, MODES)
        if len(log.problems) != 1 or want not in log.problems[0]:
            bad.append((lines[-1], want, log.problems))
    tap.ok(not bad, f"every malformed line, one problem with its message "
           f"({len(PROBLEMS)} cases; wrong: {bad})")
    log = parse_log([RUN, f"{RESULT} value=1 faults=1 touched=1"], MODES)
    tap.ok(not log.problems and len(log.results) == 1,
           "the well-formed lines of those cases make no problem")
    tap.ok(not parse_log(
        ["RUN rep=1 mode=none scenario=path variant=user-vmas1 threads=1",
         "RESULT scenario=path variant=user-vmas1 threads=1 metric=m unit=u "
         "value=1 faults=1 touched=1"], MODES).problems,
           "mode none (the module not loaded) is always allowed")


def grammar(tap, d):
    log = parse_log([
        "[   12.5] RUN rep=1 mode=mmap scenario=latency variant=munmap "
        "threads=2 t=100",
        "RESULT scenario=uncontended variant=munmap threads=2 "
        "metric=lat_p99_ns unit=ns value=5.5 faults=1 touched=1",
        "DIAG scenario=contended variant=munmap threads=2 a=1 b=2.5",
        "RUN rep=2 mode=mmap scenario=scale variant=- threads=1 t=200",
        "RESULT scenario=scale variant=- threads=1 metric=faults_per_sec "
        "unit=faults/s value=10 faults=1 touched=1",
        "FAIL rep=2 mode=mmap scenario=scale variant=- threads=1 rc=3",
        "RUN rep=0 mode=mmap scenario=scale variant=- threads=1",
        "RESULT scenario=scale variant=- threads=1 metric=faults_per_sec "
        "unit=faults/s value=1e9 faults=1 touched=1",
    ], MODES)
    r = log.results
    tap.ok(len(r) == 1 and r[0]["scenario"] == "uncontended" and
           r[0]["rep"] == 1 and r[0]["mode"] == "mmap" and
           r[0]["value"] == "5.5" and log.warmup == 1 and
           [x["t"] for x in log.runs] == [100, 200, None] and
           [x["measured"] for x in log.runs] == [True, False, False],
           "latency run takes uncontended lat_*, FAIL drops its run, rep 0 "
           "is warm-up, t= kept")
    tap.ok(log.diags == [{"mode": "mmap", "rep": 1, "scenario": "latency",
                          "variant": "munmap", "threads": "2",
                          "values": {"a": 1.0, "b": 2.5}}] and
           log.failures == ["raw.log: FAIL rep=2 mode=mmap scenario=scale "
                            "variant=- threads=1 rc=3"] and not log.problems,
           "DIAG keyed by its run's scenario; FAIL kept as text")
    tap.ok(meta_list({"modes": "a, b  c,d"}, "modes", ["x"]) ==
           ["a", "b", "c", "d"] and meta_list({}, "modes", ["x"]) == ["x"],
           "meta.txt lists: spaces or commas, else the default")
    p = os.path.join(d, "host-load.log")
    with open(p, "w") as f:
        f.write("1.0 0.5 2\nbad line\n2.0 x 2\n3.0 0.25 2\n")
    tap.ok(read_host_load(p) == [(1.0, 0.5), (3.0, 0.25)] and
           read_host_load(os.path.join(d, "none")) == [],
           "host-load.log: malformed lines skipped, missing file empty")


TESTS = [report_parse, failures, problems, grammar]
Test = unittest_case(TESTS)
