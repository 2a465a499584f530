#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs *inside* a guest boot of its own (scripts/vm.sh --exec): the crash
# test, which oopses the kernel on purpose (once per mode), then proves the
# guest still answers. Loads vmashadow.ko, then the test module
# vmashadow_crash.ko (crash/vmashadow_crash.c) whose debugfs trigger
# oopses. Writes into RESULTS:
#
#   crash-tap.log    TAP of the crash test
#   crash-alive      written after the test if the guest still runs commands
#   crash-dmesg.log  the whole guest kernel log
#   crash-rc         the run's exit status
#
#   guest-crash.sh RESULTS KO CRASH_KO SELFTESTS

set -uo pipefail

[ $# -eq 4 ] || { echo "usage: $0 RESULTS KO CRASH_KO SELFTESTS" >&2; exit 2; }
results=$1 ko=$2 crash_ko=$3 tests=$4
rc=0

finish() {
	dmesg >"$results/crash-dmesg.log"
	echo "$rc" >"$results/crash-rc"
	sync
}
trap finish EXIT

mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
# The oopsing task dies inside a debugfs write of vmashadow_crash's trigger,
# which pins that module (and its trigger file) for good: this boot never
# unloads the modules.
insmod "$ko" || { rc=1; exit; }
insmod "$crash_ko" || { rc=1; exit; }

cd "$tests/vmashadow" || { rc=1; exit; }
VMASHADOW_KO=$ko ./crash_test 2>&1 | tee "$results/crash-tap.log"
rc=${PIPESTATUS[0]}

# The kernel survived its oopses and still runs commands.
uname -r >"$results/crash-alive" && echo "vmashadow-crash: guest alive" >&2
