#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""KCSAN reports of a guest kernel log, told apart by whose code raced.

    kcsan-reports.py --series FUNCS LOG   (make test-kcsan)
    kcsan-reports.py --self-test          (make lint)

FUNCS lists, one a line, the C functions the series adds or changes
(scripts/test/test-kcsan.sh derives it from kernel/patches/). A report is
the series' when the function that made either racing access (the first
frame of its stack) is one of them, or is the module's (a frame marked
[vmashadow]); any such report fails. Every other report is core code the
series did not write: it is printed with both stacks, for a human to name,
and marked "reached through the series" when a deeper frame is the
series' (the race is core's, the path to it may be new). Exit 0 when no
report is the series', 1 when one is, 2 on bad usage.
"""

import re
import sys

TS = r'(?:\[ *[0-9.]+\](?:\[ *[CT][0-9]+\])? )?'
BANNER = re.compile('^' + TS + '={20,}$')
TITLE = re.compile('^' + TS + r'BUG: KCSAN: (.*)$')
ACCESS = re.compile('^' + TS + r'(?:race at unknown origin, with )?'
                    r'((?:read|write)(?: \(marked\))?(?:-write)?)'
                    r' to 0x[0-9a-f]+ of \d+ bytes by (.*):$')
FRAME = re.compile('^' + TS + r' ([A-Za-z0-9_.$]+)\+0x[0-9a-f]+/0x[0-9a-f]+'
                   r'(?: \[([A-Za-z0-9_]+)\])?')
MODULE = 'vmashadow'


class Report:
    def __init__(self, title):
        self.title = title
        self.accesses = []  # [description, [(function, module), ...]]
        self.lines = []

    def top_frames(self):
        return [frames[0] for _, frames in self.accesses if frames]

    def all_frames(self):
        return [f for _, frames in self.accesses for f in frames]


def parse(lines):
    """The KCSAN reports of a kernel log, in order."""
    reports, cur = [], None
    for line in lines:
        line = line.rstrip('\n')
        m = TITLE.match(line)
        if m:
            cur = Report(m.group(1))
            reports.append(cur)
            cur.lines.append(line)
            continue
        if cur is None:
            continue
        if BANNER.match(line):
            cur = None
            continue
        cur.lines.append(line)
        m = ACCESS.match(line)
        if m:
            cur.accesses.append([f'{m.group(1)} by {m.group(2)}', []])
            continue
        m = FRAME.match(line)
        if m and cur.accesses:
            cur.accesses[-1][1].append((m.group(1), m.group(2)))
    return reports


def base(function):
    """A frame's function without the compiler's suffixes (.isra.0, .cold)."""
    return function.split('.')[0]


def is_series(frame, series):
    function, module = frame
    return module == MODULE or base(function) in series


def classify(reports, series):
    """(the series' reports, core's reports) of REPORTS."""
    ours, core = [], []
    for r in reports:
        if any(is_series(f, series) for f in r.top_frames()):
            ours.append(r)
        else:
            core.append(r)
    return ours, core


def show(r, series, out):
    through = any(is_series(f, series) for f in r.all_frames())
    out.write(f'- KCSAN: {r.title}'
              f'{" (reached through the series)" if through else ""}\n')
    for desc, frames in r.accesses:
        out.write(f'    {desc}:\n')
        for function, module in frames[:12]:
            out.write(f'      {function}{" [" + module + "]" if module else ""}'
                      f'{"   <- series" if is_series((function, module), series) else ""}\n')


def run(log, series_file, out):
    with open(series_file) as f:
        series = {w.strip() for w in f if w.strip()}
    with open(log, errors='replace') as f:
        reports = parse(f)
    ours, core = classify(reports, series)
    out.write(f'{len(reports)} KCSAN report(s): {len(ours)} in the series\' or the '
              f'module\'s code, {len(core)} in core code\n')
    if ours:
        out.write('\nIn the series\' or the module\'s code (each fails the run):\n')
        for r in ours:
            show(r, series, out)
    if core:
        out.write('\nIn core code the series did not write (named, not fatal):\n')
        for r in core:
            show(r, series, out)
    return 1 if ours else 0


SAMPLE = """\
[   10.000000] ==================================================================
[   10.000001] BUG: KCSAN: data-race in fault_vma_lock / vma_start_write
[   10.000002]
[   10.000003] write to 0xffff888004a1b0c0 of 4 bytes by task 80 on cpu 1:
[   10.000004]  vma_start_write+0x51/0x90
[   10.000005]  __split_vma+0x2f/0x400
[   10.000006]
[   10.000007] read to 0xffff888004a1b0c0 of 4 bytes by task 81 on cpu 0:
[   10.000008]  fault_vma_lock.isra.0+0x60/0x200
[   10.000009]  do_user_addr_fault+0x1a0/0x900
[   10.000010]
[   10.000011] value changed: 0x00000002 -> 0x00000003
[   10.000012] ==================================================================
[   11.000000] ==================================================================
[   11.000001] BUG: KCSAN: data-race in page_counter_charge / page_counter_charge
[   11.000003] read-write to 0xffff888003000010 of 8 bytes by task 82 on cpu 1:
[   11.000004]  page_counter_charge+0x30/0x80
[   11.000005]  fault_spec_anon+0x40/0x300
[   11.000007] read to 0xffff888003000010 of 8 bytes by task 83 on cpu 0:
[   11.000008]  page_counter_charge+0x20/0x80
[   11.000009]  do_anonymous_page+0x99/0x400
[   11.000012] ==================================================================
[   12.000000] ==================================================================
[   12.000001] BUG: KCSAN: data-race in vms_stats_add / vms_stats_read
[   12.000003] write to 0xffff888003000020 of 8 bytes by task 84 on cpu 1:
[   12.000004]  vms_stats_add+0x10/0x20 [vmashadow]
[   12.000007] read to 0xffff888003000020 of 8 bytes by task 85 on cpu 0:
[   12.000008]  vms_stats_read+0x20/0x40 [vmashadow]
[   12.000012] ==================================================================
"""


def self_test():
    import io
    import os
    import tempfile
    failed = 0
    n = 0

    def check(cond, what):
        nonlocal failed, n
        n += 1
        print(f'{"ok" if cond else "not ok"} {n} {what}')
        failed += not cond

    reports = parse(SAMPLE.splitlines())
    check(len(reports) == 3, 'three reports parsed')
    check([len(r.accesses) for r in reports] == [2, 2, 2], 'two accesses each')
    check(reports[0].top_frames()[1] == ('fault_vma_lock.isra.0', None),
          'frames keep their function, suffix and all')
    series = {'fault_vma_lock', 'fault_spec_anon'}
    ours, core = classify(reports, series)
    check([r.title for r in ours] == ['data-race in fault_vma_lock / vma_start_write',
                                      'data-race in vms_stats_add / vms_stats_read'],
          "a series function's access (suffix stripped) and a module frame are the series'")
    check([r.title for r in core] == ['data-race in page_counter_charge / page_counter_charge'],
          "a race between two core accesses is core's, though the series' code called one")
    with tempfile.TemporaryDirectory() as d:
        log, funcs = os.path.join(d, 'log'), os.path.join(d, 'funcs')
        with open(funcs, 'w') as f:
            f.write('fault_vma_lock\nfault_spec_anon\n')
        with open(log, 'w') as f:
            f.write(SAMPLE)
        out = io.StringIO()
        check(run(log, funcs, out) == 1, 'a report in the series fails the run')
        check('reached through the series' in out.getvalue(),
              'a core report reached through the series says so')
        with open(log, 'w') as f:
            f.write('\n'.join(SAMPLE.splitlines()[13:22]) + '\n')
        out = io.StringIO()
        check(run(log, funcs, out) == 0 and '1 in core code' in out.getvalue(),
              'a core report alone is named, not fatal')
        with open(log, 'w') as f:
            f.write('[    1.0] Linux version 7.3.4\n')
        out = io.StringIO()
        check(run(log, funcs, out) == 0 and out.getvalue().startswith('0 KCSAN'),
              'a clean log has no report')
    print(f'1..{n}')
    return 1 if failed else 0


def main(argv):
    if argv == ['--self-test']:
        return self_test()
    if len(argv) == 3 and argv[0] == '--series':
        return run(argv[2], argv[1], sys.stdout)
    sys.stderr.write('usage: kcsan-reports.py --series FUNCS LOG | --self-test\n')
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
