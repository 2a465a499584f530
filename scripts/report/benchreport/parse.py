# SPDX-License-Identifier: GPL-2.0
"""The logs' grammar: raw.log and path-raw.log lines -> records.

Also meta.txt and host-load.log, and Results, one results directory read
into a pandas frame. The grammar is described in cli.py's docstring (what
bench-report.py prints on bad usage) and docs/benchmarks.md.
"""

import math
import os
import re

import pandas as pd

from .common import (BUSY_HOST, DIAG_KEYS, LATENCY_SCENARIOS, LINE, LOGS,
                     MODES, NONE, RESULT_KEYS, RUN_KEYS, RUNS_COLUMNS,
                     SCENARIOS, UsageError)


def parse_fields(text):
    return dict(f.split("=", 1) for f in text.split())


class Log:
    """What the logs say: measured results, failures, problems."""

    def __init__(self):
        self.results = []     # dicts with RUNS_COLUMNS keys, rep >= 1
        self.diags = []       # DIAG lines of rep >= 1: run keys + values
        self.runs = []        # every RUN line in order: {"t", "measured"}
        self.warmup = 0       # RESULT lines of rep 0, discarded
        self.failures = []    # FAIL lines, as text
        self.problems = []    # malformed or orphan lines, empty runs



# The keys each kind of line must have.
LINE_KEYS = {"RUN": RUN_KEYS, "FAIL": RUN_KEYS + ["rc"],
             "RESULT": RESULT_KEYS, "DIAG": DIAG_KEYS}


def check_line(kind, fields, run=None, modes=()):
    """Check a RUN, FAIL, RESULT or DIAG line's fields: the one checker.

    run: the fields of the RUN line the line belongs to (None before the
    first); modes: the modes a RUN or FAIL line may name. Raises ValueError
    saying what is wrong (the report's PROBLEM text). Returns the DIAG
    line's values, {key: float}, for DIAG; None for the others.
    """
    missing = [k for k in LINE_KEYS[kind] if k not in fields]
    if missing:
        raise ValueError(f"{kind} without {', '.join(missing)}")
    if kind in ("RUN", "FAIL"):
        if not fields["rep"].isdigit() or not fields["threads"].isdigit():
            raise ValueError(f"{kind} with a bad rep or threads")
        if fields["mode"] not in modes:
            raise ValueError(f"{kind} with unknown mode '{fields['mode']}' "
                             f"(known: {' '.join(modes)})")
        return None
    if kind == "RESULT":
        try:
            value = float(fields["value"])
            int(fields["faults"])
            int(fields["touched"])
        except ValueError:
            raise ValueError(f"RESULT with a non-numeric value, faults or "
                             f"touched: {fields['value']} {fields['faults']} "
                             f"{fields['touched']}") from None
        if not math.isfinite(value):
            raise ValueError(f"RESULT value {fields['value']}")
    if run is None:
        raise ValueError(f"{kind} before any RUN line")
    if kind == "DIAG":
        values = {}
        for k, v in fields.items():
            if k in DIAG_KEYS:
                continue
            try:
                x = float(v)
            except ValueError:
                raise ValueError(f"DIAG {k}={v} is not a number") from None
            if not math.isfinite(x):
                raise ValueError(f"DIAG {k}={v}")
            values[k] = x
        return values
    for k in DIAG_KEYS:     # scenario, variant, threads: the run's
        # The wrapper names its "contended --latency" runs scenario=latency.
        if (k == "scenario" and run[k] == "latency" and
                fields[k] in LATENCY_SCENARIOS and
                fields["metric"].startswith("lat_")):
            continue
        if fields[k] != run[k]:
            raise ValueError(f"RESULT {k}={fields[k]} in a RUN with "
                             f"{k}={run[k]}")
    return None


def diag_record(fields, run, values):
    """A DIAG line keyed like the RESULT lines of its run (latency runs: by
    the run's scenario)."""
    return {"mode": run["mode"], "rep": int(run["rep"]),
            "scenario": run["scenario"], "variant": fields["variant"],
            "threads": fields["threads"], "values": values}


def parse_log(lines, modes=None, source="raw.log", log=None):
    """Parse one log into log (a new Log if None); returns the Log."""
    modes = list(modes or MODES) + [NONE]
    log = log or Log()
    run = None           # fields of the current RUN line
    pending = []         # its results, kept until the next RUN or FAIL
    pending_diag = []    # its DIAG lines
    first_run = len(log.runs)

    def close_run():
        if run is None:
            return
        if not pending:
            log.problems.append(f"{source}: run without results and without "
                                f"FAIL: {run_name(run)}")
        elif run["rep"] == "0":
            log.warmup += len(pending)
        else:
            log.results.extend(pending)
            log.diags.extend(pending_diag)
            log.runs[-1]["measured"] = True

    for lineno, line in enumerate(lines, 1):
        m = LINE.search(line.rstrip("\r\n"))
        if not m:
            continue
        kind = m.group(1)
        try:
            try:
                fields = parse_fields(m.group(2))
            except ValueError:
                raise ValueError("not key=value fields") from None
            values = check_line(kind, fields, run, modes)
            if kind == "RUN":
                close_run()
                run, pending, pending_diag = fields, [], []
                log.runs.append({"t": int(fields["t"]) if fields.get(
                    "t", "").isdigit() else None, "measured": False,
                    "first": len(log.runs) == first_run})
            elif kind == "RESULT":
                pending.append({"source": source, "rep": int(run["rep"]),
                                "mode": run["mode"],
                                **{k: fields[k] for k in RESULT_KEYS},
                                "run": len(log.runs) - 1})
            elif kind == "DIAG":
                pending_diag.append(diag_record(fields, run, values))
            else:
                log.failures.append(f"{source}: {m.group(0).strip()}")
                # The failed run's results, if any, do not count.
                if run is not None and all(run[k] == fields[k]
                                           for k in RUN_KEYS):
                    run, pending, pending_diag = None, [], []
        except ValueError as e:
            log.problems.append(f"{source} line {lineno}: {e}: "
                                f"{line.strip()[:120]}")
    close_run()
    return log


def read_host_load(path):
    """host-load.log: [(host time, CPUs busy outside the guest)]."""
    samples = []
    if os.path.exists(path):
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    t, other, _ = (float(x) for x in line.split())
                except ValueError:
                    continue
                samples.append((t, other))
    return samples


def attribute_host_load(log, samples):
    """Give each run (and its results) the host's other load during it.

    A run lasts until the next RUN line of the same log; a sample covers
    the 2 s before its time stamp. Runs without a time stamp or a sample
    get None.
    """
    for i, run in enumerate(log.runs):
        run["load"] = None
        if run["t"] is None or not samples:
            continue
        nxt = (log.runs[i + 1]["t"] if i + 1 < len(log.runs) and
               not log.runs[i + 1]["first"] else None)
        end = nxt if nxt is not None and nxt >= run["t"] else run["t"] + 5
        during = [o for t, o in samples if run["t"] < t <= end + 2]
        if during:
            run["load"] = sum(during) / len(during)
    for r in log.results:
        r["host_load"] = log.runs[r["run"]]["load"]


def busy(load):
    return load is not None and load > BUSY_HOST


def same_conditions(load_a, load_b):
    if load_a is None or load_b is None:
        return load_a is None and load_b is None
    return abs(load_a - load_b) <= BUSY_HOST


def run_name(f):
    return " ".join(f"{k}={f[k]}" for k in RUN_KEYS)


def read_meta(path):
    """meta.txt: {key: value} in file order, keys lower case."""
    meta = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                key, sep, value = line.partition(":")
                if sep and key.strip():
                    meta[key.strip().lower()] = value.strip()
    return meta


def meta_list(meta, key, default):
    """A list from meta.txt (space or comma separated), or the default."""
    items = [x for x in re.split(r"[\s,]+", meta.get(key, "")) if x]
    return items or list(default)


class Results:
    """One results directory: its metadata, logs and results."""

    def __init__(self, path):
        self.path = path
        self.meta = read_meta(os.path.join(path, "meta.txt"))
        self.modes = [m for m in meta_list(self.meta, "modes", MODES)
                      if m != NONE]
        self.scenarios = meta_list(self.meta, "scenarios", SCENARIOS)
        self.log = Log()
        self.host_load = read_host_load(os.path.join(path, "host-load.log"))
        self.sources = []
        for name in LOGS:
            p = os.path.join(path, name)
            if os.path.exists(p):
                self.sources.append(name)
                sub = Log()
                with open(p, encoding="utf-8", errors="replace") as f:
                    parse_log(f, self.modes, name, sub)
                attribute_host_load(sub, self.host_load)
                self.merge(sub)
        self.df = frame(self.log.results)

    def merge(self, sub):
        offset = len(self.log.runs)
        for r in sub.results:
            r["run"] += offset
        self.log.results += sub.results
        self.log.diags += sub.diags
        self.log.runs += sub.runs
        self.log.warmup += sub.warmup
        self.log.failures += sub.failures
        self.log.problems += sub.problems

    def bad(self):
        return bool(self.log.failures or self.log.problems or
                    not self.log.results)


def frame(results):
    df = pd.DataFrame(results, columns=RUNS_COLUMNS)
    df["value"] = df["value"].astype(float)
    df["rep"] = df["rep"].astype(int)
    df["threads"] = df["threads"].astype(int)
    return df



def load(d):
    if not os.path.isdir(d):
        raise UsageError(f"{d}: no such results directory")
    if not any(os.path.isfile(os.path.join(d, n)) for n in LOGS):
        raise UsageError(f"{d}: holds neither raw.log nor path-raw.log "
                         f"(not a results directory of make bench?)")
    try:
        return Results(d)
    except OSError as e:
        raise UsageError(f"{d}: {e}") from None
