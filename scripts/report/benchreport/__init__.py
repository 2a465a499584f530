# SPDX-License-Identifier: GPL-2.0
"""vmashadow's bench report, as a package; scripts/report/bench-report.py is its
command (usage, log grammar and exit status: cli.py's docstring).

  common   the vocabulary: modes, scenarios, metrics, their order
  parse    raw.log, path-raw.log, meta.txt, host-load.log -> records
  stats    table means, Fieller/Welch ratios, paired ratios, Holm
  analyse  blocks of results and the mode pairs compared in each
  format   report.txt, the CSVs, the text of --compare
  plot     bench.png and path.png (matplotlib, imported only there)
  synth    synthetic results directories (--synth)
  cli      the command: report, --compare, --synth, --self-test
  tests/   the self-test, one file per module (TAP, or python -m unittest)

Importing the package imports nothing; numpy, scipy and pandas come with
parse, stats, analyse and format.
"""
