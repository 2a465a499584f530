#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The coherence bench's report (make bench-coherence).

    scripts/report/coherence-report.py RESULTS_DIR

RESULTS_DIR is what scripts/bench/coherence-bench.sh wrote: meta.txt and one
cpusN/ per boot, each with windows.log (the guest's line per window:
scripts/guest/guest-coherence.sh) and report.csv.K (the plugin's counts of the
K-th window: tools/coherence/README.md). Every window's counts (all vCPUs,
kernel and user) are divided by the kernel's own fault count over the window
(/proc/vmstat pgfault, read by the guest before and after the window).
Repetition 0 is the warm-up and is left out.

Writes RESULTS_DIR/windows.csv (a row per window), summary.csv (per vCPUs,
mode and scenario: mean, min, max, spread of each per-fault figure),
symbols.csv (the top symbols by transfers of each) and report.txt, and
prints report.txt. Exits 1 (after writing what it can) if a window is
missing or failed, counted too few faults, lost accesses (untracked), or
if the fault path's shared lines do not show where they must (see
TARGETS); 2 on bad arguments.

Python 3 standard library only.
"""

import csv
import os
import re
import statistics
import sys

FIELDS = ("insns", "atomics", "loads", "stores", "transfers", "xfer_load", "xfer_store")
PER_FAULT = ("insns", "atomics", "stores", "transfers")
MIN_FAULTS = 500  # a window with fewer kernel-counted faults measured nothing
TOP = 10
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchreport.common import MODES as _MODES  # noqa: E402  (scripts/modes)
MODES = ("none", *_MODES)
SCENARIOS = ("pft", "page_fault1", "contended", "kernel-faults")

# Where the fault path's shared words must show when all threads fault one
# VMA (pft): the VMA's vm_refcnt, taken by vma_start_read() (called by
# lock_vma_under_rcu() and the shadow hook's validation) and dropped by
# vma_end_read(), which is inlined into the arch fault handler
# do_user_addr_fault() (the other copies of vma_end_read in System.map are
# other callers'), or vma_refcount_put(), in pervma and shadow; mmap_lock's
# count in mmap: down_read_trylock() (lock_mm_and_find_vma() tries it
# first), down_read*(), up_read() / __up_read(), the rwsem slow paths.
REFCNT_RE = re.compile(r"^(vma_start_read|vma_end_read|lock_vma_under_rcu|vma_refcount_put|"
                       r"__vma_refcount_put\w*|do_user_addr_fault|fault_vma_hook\w*)$")
RWSEM_RE = re.compile(r"^(__)?(down_read\w*|up_read|rwsem\w*|lock_mm_and_find_vma)$")
TARGETS = {"pervma": REFCNT_RE, "shadow": REFCNT_RE, "mmap": RWSEM_RE}
# The transfers split four ways, per window, by the symbol that made them:
# lock: the fault path's locks (REFCNT_RE or RWSEM_RE), the lines every
# faulter of a VMA or a process shares; data: the pages' contents (zeroing,
# user code, copies), which move when the vCPU that last wrote them still
# holds them (the plugin's capacity model); tick: work the guest does per
# unit of time, not per fault (TICK_RE); other: everything else (page
# allocator, LRU, page tables, ...).
# prep_new_page: the perf kernel zeroes a new page there (init_on_alloc,
# clear_page inlined as rep stosb): its transfers are stores, ~64 a page
# when the page was last zeroed by another vCPU.
DATA_RE = re.compile(r"^(user|prep_new_page|kernel_init_pages|clear_page\w*|clear_highpage\w*|clear_user\w*|__?memset|__?memcpy|memmove|"
                     r"copy_page|copy_mc\w*|rep_\w+_alternative|_?copy_(to|from)_user\w*|"
                     r"copy_user\w*|__copy_user\w*|filemap_read|copy_page_to_iter\w*)$")
LOCK_RE = re.compile(REFCNT_RE.pattern + "|" + RWSEM_RE.pattern)
# tick: the timer interrupt and what it runs (timekeeping, jiffies, the
# scheduler tick and load balancing, RCU's tick and grace-period work). Its
# count per fault scales with the time a fault takes, which under TCG is
# about 100 times a hardware fault's, and with the host's load: it is
# reported apart and left out of "transfers w/o tick".
TICK_RE = re.compile(r"^(ktime_\w+|timekeeping_\w+|tick_\w+|\w*jiffies\w*|hrtimer_\w+|__hrtimer_\w+|"
                     r"__sysvec_apic_timer_interrupt|update_process_times|sched_tick|sched_balance_\w+|"
                     r"update_rq_clock\w*|update_curr\w*|task_tick_\w+|account_\w+|calc_global_load\w*|"
                     r"rcu_\w+|run_timer_\w+|__run_timers|timer_\w+|psi_\w+)$")


def split_transfers(sym):
    """Transfers in the lock, the data and the tick functions, and the lock
    functions' atomics (each an access to a lock word: what would move on
    hardware)."""
    lock = data = tick = lock_atomics = 0
    for name, c in sym.items():
        if DATA_RE.search(name):
            data += c["transfers"]
        elif LOCK_RE.search(name):
            lock += c["transfers"]
            lock_atomics += c["atomics"]
        elif TICK_RE.search(name):
            tick += c["transfers"]
    return lock, data, tick, lock_atomics


def parse_kv(line):
    return dict(w.split("=", 1) for w in line.split()[1:] if "=" in w)


def read_plugin(path):
    """One window's report: totals per space, symbols, meta."""
    out = {"meta": {}, "total": {}, "sym": {}}
    with open(path) as f:
        for row in csv.reader(f):
            if not row or row[0].startswith("#"):
                continue
            if row[0] == "meta":
                out["meta"][row[1]] = ",".join(row[2:])
            elif row[0] == "total":
                out["total"][row[2]] = dict(zip(FIELDS, map(int, row[3:10])))
            elif row[0] == "sym":
                out["sym"][row[1]] = dict(zip(FIELDS, map(int, row[2:9])))
    return out


def fmt(x):
    if x >= 1000:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.3f}"


def main(argv):
    if len(argv) != 2 or argv[1].startswith("-"):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        print("usage: coherence-report.py RESULTS_DIR", file=sys.stderr)
        return 2
    res = argv[1]
    if not os.path.isdir(res):
        print(f"coherence-report: {res}: no such directory", file=sys.stderr)
        return 2
    boots = sorted((d for d in os.listdir(res) if re.fullmatch(r"cpus\d+", d)),
                   key=lambda d: int(d[4:]))
    if not boots:
        print(f"coherence-report: {res}: no cpusN/ directories (not a coherence results directory?)",
              file=sys.stderr)
        return 2

    problems = []
    rows = []  # one per window
    merges = {}
    for b in boots:
        vcpus = int(b[4:])
        d = os.path.join(res, b)
        wlog = os.path.join(d, "windows.log")
        if not os.path.exists(wlog):
            problems.append(f"{b}: no windows.log (the guest did not run: see {d}/console.log)")
            continue
        ended = None
        seen = 0
        for line in open(wlog):
            if line.startswith("MERGE "):
                merges[vcpus] = parse_kv(line)
            elif line.startswith("FAIL "):
                problems.append(f"{b}: {line.strip()}")
            elif line.startswith("END "):
                ended = int(parse_kv(line)["windows"])
            elif line.startswith("WINDOW "):
                w = parse_kv(line)
                k = int(w["k"])
                seen += 1
                rep = os.path.join(d, f"report.csv.{k}")
                if not os.path.exists(rep):
                    problems.append(f"{b}: window {k}: no report.csv.{k} (was the plugin loaded?)")
                    continue
                p = read_plugin(rep)
                if p["meta"].get("tags") != w["tag"]:
                    problems.append(f"{b}: window {k}: the plugin's tag {p['meta'].get('tags')} is not {w['tag']}")
                    continue
                faults = int(w["pgfault"])
                r = {"vcpus": vcpus, "k": k, "rep": int(w["rep"]), "mode": w["mode"],
                     "scenario": w["scenario"], "threads": int(w["threads"]),
                     "rc": int(w["rc"]), "pgfault": faults,
                     "bench_faults": int(w["bench_faults"]),
                     "untracked": int(p["meta"].get("untracked_accesses", "0")),
                     "sym": p["sym"]}
                for key, v in w.items():
                    if key.startswith("vmstat_"):
                        r[key] = int(v)
                for space in ("all", "kernel", "user"):
                    for f in FIELDS:
                        r[f"{space}_{f}"] = p["total"].get(space, {}).get(f, 0)
                if r["rc"] != 0:
                    problems.append(f"{b}: window {k} ({r['mode']} {r['scenario']}): the bench failed (rc {r['rc']})")
                if faults < MIN_FAULTS or r["bench_faults"] <= 0:
                    problems.append(f"{b}: window {k} ({r['mode']} {r['scenario']}): {faults} faults (pgfault), "
                                    f"{r['bench_faults']} by the bench: it measured nothing")
                    continue
                if r["untracked"]:
                    problems.append(f"{b}: window {k}: {r['untracked']} accesses untracked (grow lines=)")
                for f in FIELDS:
                    r[f"pf_{f}"] = r[f"all_{f}"] / faults
                r["pf_kernel_transfers"] = r["kernel_transfers"] / faults
                lock, data, tick, lock_atomics = split_transfers(p["sym"])
                r["pf_lock_atomics"] = lock_atomics / faults
                r["pf_lock_transfers"] = lock / faults
                r["pf_data_transfers"] = data / faults
                r["pf_tick_transfers"] = tick / faults
                r["pf_other_transfers"] = (r["all_transfers"] - lock - data - tick) / faults
                r["pf_notick_transfers"] = (r["all_transfers"] - tick) / faults
                rows.append(r)
        if ended is None:
            problems.append(f"{b}: windows.log has no END line (the guest died: see {d}/console.log)")
        elif ended != seen:
            problems.append(f"{b}: {seen} windows logged, the guest ran {ended}")

    # windows.csv
    wcols = (["vcpus", "k", "rep", "mode", "scenario", "threads", "rc", "pgfault", "bench_faults", "untracked"]
             + [f"pf_{f}" for f in FIELDS] + ["pf_kernel_transfers", "pf_lock_transfers",
                                               "pf_data_transfers", "pf_tick_transfers", "pf_other_transfers",
                                               "pf_notick_transfers", "pf_lock_atomics"]
             + [f"{s}_{f}" for s in ("all", "kernel", "user") for f in FIELDS])
    vcols = sorted({c for r in rows for c in r if c.startswith("vmstat_")})
    with open(os.path.join(res, "windows.csv"), "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(wcols + vcols)
        for r in rows:
            wr.writerow([r.get(c, "") if not isinstance(r.get(c), float) else f"{r[c]:.4f}"
                         for c in wcols + vcols])

    # Per (vcpus, mode, scenario), the measured repetitions.
    groups = {}
    for r in rows:
        if r["rep"] == 0:
            continue
        groups.setdefault((r["vcpus"], r["mode"], r["scenario"]), []).append(r)

    def order(key):
        v, m, s = key
        return (v, SCENARIOS.index(s) if s in SCENARIOS else 99, MODES.index(m) if m in MODES else 99)

    summary = []
    symrows = []
    for key in sorted(groups, key=order):
        g = groups[key]
        e = {"vcpus": key[0], "mode": key[1], "scenario": key[2], "runs": len(g),
             "threads": g[0]["threads"],
             "faults_mean": statistics.fmean(r["pgfault"] for r in g)}
        for f in PER_FAULT + ("kernel_transfers", "loads", "lock_transfers", "data_transfers",
                              "tick_transfers", "other_transfers", "notick_transfers", "lock_atomics"):
            xs = [r[f"pf_{f}"] for r in g]
            m = statistics.fmean(xs)
            e[f"{f}_mean"] = m
            e[f"{f}_min"] = min(xs)
            e[f"{f}_max"] = max(xs)
            # spread: (max - min) / mean, in percent
            e[f"{f}_spread_pct"] = 100 * (max(xs) - min(xs)) / m if m else 0.0
        tot_faults = sum(r["pgfault"] for r in g)
        for v in ("vmstat_fault_vma_hook_hit", "vmstat_vma_lock_success", "vmstat_vma_lock_retry",
                  "vmstat_vma_lock_abort", "vmstat_vma_lock_miss"):
            if all(v in r for r in g):
                e[v + "_pf"] = sum(r[v] for r in g) / tot_faults
        # Top symbols by transfers over the repetitions, per fault.
        syms = {}
        for r in g:
            for name, c in r["sym"].items():
                s = syms.setdefault(name, dict.fromkeys(FIELDS, 0))
                for f in FIELDS:
                    s[f] += c[f]
        top = sorted(syms.items(), key=lambda kv: (-kv[1]["transfers"], -kv[1]["atomics"], kv[0]))[:TOP]
        e["top"] = []
        for rank, (name, c) in enumerate(top, 1):
            t = {"rank": rank, "symbol": name}
            for f in FIELDS:
                t[f] = c[f] / tot_faults
            e["top"].append(t)
            symrows.append({"vcpus": key[0], "mode": key[1], "scenario": key[2], **t})
        # The shared words that must show when all threads fault one VMA:
        # their transfers per fault and rank, wherever they rank; a problem
        # unless one of them is in the top TOP.
        e["target"] = ""
        if key[2] == "pft" and key[0] >= 2 and key[1] in TARGETS:
            ranked = sorted(syms.items(), key=lambda kv: (-kv[1]["transfers"], -kv[1]["atomics"], kv[0]))
            # Ranked among the symbols outside the data class too: the
            # pages' contents move only for want of a cache model.
            meta = [n for n, _ in ranked if not DATA_RE.search(n)]
            hits = [(i + 1, meta.index(n) + 1, n, c["transfers"] / tot_faults)
                    for i, (n, c) in enumerate(ranked)
                    if TARGETS[key[1]].search(n) and c["transfers"] > 0]
            e["target"] = " ".join(f"{n}={x:.3f}(#{i},#{j} w/o data)" for i, j, n, x in hits) or "none"
            if not any(j <= TOP for _, j, _, _ in hits):
                problems.append(f"{key[0]} vCPUs {key[1]} pft: no transfers in "
                                f"{'vm_refcnt' if key[1] != 'mmap' else 'mmap_lock'}'s functions among the "
                                f"top {TOP} outside the data class (they are: {e['target']})")
        summary.append(e)

    scols = ["vcpus", "scenario", "mode", "threads", "runs", "faults_mean"]
    for f in PER_FAULT + ("kernel_transfers", "loads", "lock_transfers", "data_transfers", "tick_transfers",
              "other_transfers", "notick_transfers", "lock_atomics"):
        scols += [f"{f}_mean", f"{f}_min", f"{f}_max", f"{f}_spread_pct"]
    scols += sorted({c for e in summary for c in e if c.endswith("_pf")}) + ["target"]
    with open(os.path.join(res, "summary.csv"), "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(scols)
        for e in summary:
            wr.writerow([f"{e[c]:.4f}" if isinstance(e.get(c), float) else e.get(c, "") for c in scols])
    with open(os.path.join(res, "symbols.csv"), "w", newline="") as f:
        wr = csv.writer(f)
        cols = ["vcpus", "scenario", "mode", "rank", "symbol"] + list(FIELDS)
        wr.writerow([c if c in ("vcpus", "scenario", "mode", "rank", "symbol") else c + "_per_fault"
                     for c in cols])
        for s in symrows:
            wr.writerow([f"{s[c]:.4f}" if isinstance(s[c], float) else s[c] for c in cols])

    # report.txt
    out = []
    meta = os.path.join(res, "meta.txt")
    if os.path.exists(meta):
        out += [l.rstrip("\n") for l in open(meta)]
    for b in boots:
        m = os.path.join(res, b, "meta.txt")
        if os.path.exists(m):
            out.append(f"{b}: " + "; ".join(l.strip() for l in open(m)
                                              if l.split(":")[0] in ("kernel", "accel", "vcpus", "memory")))
    out.append("")
    out.append("Per fault = a window's counts (every vCPU, kernel and user) / the window's /proc/vmstat")
    out.append("pgfault delta. mean [min, max] over the measured repetitions; spread = (max-min)/mean.")
    out.append("A window includes the bench process's start-up, warm-up and teardown (mmap, munmap,")
    out.append("MADV_DONTNEED zaps, thread wake-ups): the per-fault figures carry those shares too.")
    out.append("lock/data/tick/other: transfers in the fault path's lock functions (vm_refcnt, mmap_lock),")
    out.append("in the pages' contents (zeroing, user code, copies; a line moves only if its last writer")
    out.append("still holds it: 1 MiB private caches), in the timer tick's work (per unit of time, not per")
    out.append("fault: ~100x a hardware fault's share under TCG) and the rest. w/o tick: transfers - tick.")
    for vc, mg in sorted(merges.items()):
        out.append(f"page_fault1 at {vc} vCPUs: {mg.get('regions')} live {mg.get('mb')} MiB regions seen in "
                   f"{mg.get('vmas')} VMAs over {mg.get('samples')} samples of /proc/PID/maps "
                   f"(largest VMA: {mg.get('largest_regions')} regions)")
    last = None
    for e in summary:
        if (e["vcpus"], e["scenario"]) != last:
            last = (e["vcpus"], e["scenario"])
            out.append("")
            out.append(f"== {e['vcpus']} vCPUs, {e['scenario']} ({e['threads']} faulting threads"
                       f"{' + writer' if e['scenario'] in ('contended', 'kernel-faults') else ''})")
            out.append(f"{'mode':<7} {'runs':>4} {'faults':>8} "
                       f"{'insns/fault':>22} {'atomics/fault':>15} {'stores/fault':>16} {'transfers/fault':>30}"
                       f" {'w/o tick':>15} {'lock':>14}  {'lock/data/tick/other':>26}")
        def cell(f, w):
            return f"{fmt(e[f + '_mean'])} ±{e[f + '_spread_pct']:.1f}%".rjust(w)
        out.append(f"{e['mode']:<7} {e['runs']:>4} {e['faults_mean']:>8.0f} {cell('insns', 22)} "
                   f"{cell('atomics', 15)} {cell('stores', 16)} "
                   f"{(fmt(e['transfers_mean']) + ' [' + fmt(e['transfers_min']) + ', ' + fmt(e['transfers_max']) + '] ±' + format(e['transfers_spread_pct'], '.1f') + '%').rjust(30)}"
                   f" {cell('notick_transfers', 15)} {cell('lock_transfers', 14)}"
                   f"  {fmt(e['lock_transfers_mean'])}/{fmt(e['data_transfers_mean'])}/"
                   f"{fmt(e['tick_transfers_mean'])}/{fmt(e['other_transfers_mean'])}")
    out.append("")
    out.append(f"Top {TOP} symbols by transfers (per fault, summed over the measured repetitions):")
    for e in summary:
        out.append("")
        extra = ""
        if "vmstat_fault_vma_hook_hit_pf" in e:
            extra = (f"; per fault: vma_lock_success {e.get('vmstat_vma_lock_success_pf', 0):.3f}, "
                     f"hook_hit {e['vmstat_fault_vma_hook_hit_pf']:.3f}")
        out.append(f"-- {e['vcpus']} vCPUs {e['scenario']} {e['mode']}{extra}"
                   + (f"; target: {e['target']}" if e["target"] else ""))
        out.append(f"   {'symbol':<36} {'transfers':>9} {'xfer_ld':>8} {'xfer_st':>8} {'atomics':>8} {'insns':>9}")
        for t in e["top"]:
            out.append(f"   {t['symbol'][:36]:<36} {t['transfers']:>9.3f} {t['xfer_load']:>8.3f} "
                       f"{t['xfer_store']:>8.3f} {t['atomics']:>8.3f} {t['insns']:>9.1f}")
    out.append("")
    if problems:
        out.append(f"PROBLEMS ({len(problems)}):")
        out += [f"  {p}" for p in problems]
    else:
        out.append(f"{len(rows)} windows, all counted faults, no untracked accesses; "
                   "the target symbols show where required.")
    text = "\n".join(out) + "\n"
    with open(os.path.join(res, "report.txt"), "w") as f:
        f.write(text)
    sys.stdout.write(text)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
