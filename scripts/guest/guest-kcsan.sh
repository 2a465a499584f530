#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs *inside* a KCSAN guest (scripts/test/test-kcsan.sh). Loads the
# module, runs the race test programs with the kselftest harness's filter
# options (FILTER: e.g. "-V stock -V mmap -V pervma" keeps the shadow and
# spec variants and the fixtures without variants), unloads the module,
# and writes into RESULTS:
#
#   tap.log     the programs' TAP, one "ok/not ok N PROGRAM" line each after
#               its own output
#   dmesg.log   the whole kernel log (the KCSAN reports are in it)
#   kcsan-stats.txt  KCSAN's counters after the programs (watchpoints set,
#               races seen)
#   guest-rc    0 if every program passed and the module loaded and unloaded
#
#   guest-kcsan.sh RESULTS KO SELFTESTS "FILTER" PROGRAM...

set -uo pipefail
[ $# -ge 5 ] || { echo "usage: $0 RESULTS KO SELFTESTS FILTER PROGRAM..." >&2; exit 2; }
results=$1 ko=$2 tests=$3 filter=$4
shift 4

SKIP_WATCH=400
rc=0
mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
finish() {
	dmesg >"$results/dmesg.log"
	echo "$rc" >"$results/guest-rc"
	sync
}
trap finish EXIT
echo "vmashadow-guest: $(uname -r), $(nproc) CPUs, KCSAN $(head -n 1 /sys/kernel/debug/kcsan 2>/dev/null || echo '?')" >&2

# Watch one access in SKIP_WATCH rather than KCSAN's default 4,000: ten
# times the chance to catch a race in a run of about a minute.
skip=/sys/module/kcsan/parameters/skip_watch
echo "$SKIP_WATCH" >"$skip" || { echo "vmashadow-guest: cannot set $skip" >&2; rc=1; exit; }
echo "vmashadow-guest: KCSAN skip_watch $(cat "$skip")" >&2

export VMASHADOW_KO=$ko
insmod "$ko" || { echo "vmashadow-guest: insmod $ko failed" >&2; rc=1; exit; }
cd "$tests/vmashadow" || { rc=1; exit; }
n=0
{
	echo "TAP version 13"
	echo "1..$#"
	for prog in "$@"; do
		n=$((n + 1))
		t0=$(date +%s)
		# shellcheck disable=SC2086 # FILTER is the harness's options, words
		"./$prog" $filter 2>&1 | sed 's/^/# /'
		prc=${PIPESTATUS[0]}
		if [ "$prc" = 0 ]; then
			echo "ok $n $prog $filter ($(($(date +%s) - t0)) s)"
		else
			echo "not ok $n $prog $filter (exit $prc, $(($(date +%s) - t0)) s)"
			rc=1
		fi
	done
} 2>&1 | tee "$results/tap.log"
grep -q '^not ok ' "$results/tap.log" && rc=1
# KCSAN's own counters: how many watchpoints it set, how many races it saw.
cat /sys/kernel/debug/kcsan >"$results/kcsan-stats.txt" 2>&1
if [ -d /sys/module/vmashadow ]; then
	rmmod vmashadow || { echo "vmashadow-guest: final rmmod failed" >&2; rc=1; }
fi
