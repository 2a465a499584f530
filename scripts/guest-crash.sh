#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs *inside* a guest boot of its own (scripts/vm.sh --exec): the crash
# test, which oopses the kernel on purpose (once per mode), then proves the
# guest still answers. Writes into RESULTS:
#
#   crash-tap.log    TAP of the crash test
#   crash-alive      written after the test if the guest still runs commands
#   crash-dmesg.log  the whole guest kernel log
#   crash-rc         the run's exit status
#
#   guest-crash.sh RESULTS KO SELFTESTS

set -uo pipefail

[ $# -eq 3 ] || { echo "usage: $0 RESULTS KO SELFTESTS" >&2; exit 2; }
results=$1 ko=$2 tests=$3
rc=0

finish() {
	dmesg >"$results/crash-dmesg.log"
	echo "$rc" >"$results/crash-rc"
	sync
}
trap finish EXIT

mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
# The oopsing task dies inside a debugfs write, which pins the trigger file
# for good: this boot never unloads the module.
insmod "$ko" crash_test=1 || { rc=1; exit; }

cd "$tests/vmashadow" || { rc=1; exit; }
VMASHADOW_KO=$ko ./crash_test 2>&1 | tee "$results/crash-tap.log"
rc=${PIPESTATUS[0]}

# The kernel survived its oopses and still runs commands.
uname -r >"$results/crash-alive" && echo "vmashadow-crash: guest alive" >&2
