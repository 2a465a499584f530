#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs *inside* the guest (scripts/vm.sh --exec). Loads the module, runs the
# selftests with the kernel's kselftest runner, and writes the results into
# a host directory the guest may write:
#
#   RESULTS/tap.log     all TAP/KTAP output
#   RESULTS/dmesg.log   the whole guest kernel log
#   RESULTS/guest-rc    the run's exit status
#   RESULTS/maple-kmod-tap.log  with --maple-ko: the kernel's maple tree
#                       test module (lib/test_maple_tree.c), loaded last
#
#   guest-run.sh [--maple-ko TEST_MAPLE_TREE_KO] RESULTS KO SELFTESTS_DIR [TEST...]

set -uo pipefail

maple_ko=
if [ "${1:-}" = --maple-ko ]; then
	maple_ko=${2:-}
	shift 2
fi
[ $# -ge 3 ] || { echo "usage: $0 [--maple-ko KO] RESULTS KO SELFTESTS [TEST...]" >&2; exit 2; }
results=$1 ko=$2 tests=$3
shift 3

rc=0
mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
echo "vmashadow-guest: $(uname -r), $(nproc) CPUs" >&2

finish() {
	dmesg >"$results/dmesg.log"
	echo "$rc" >"$results/guest-rc"
	sync
}
trap finish EXIT

export VMASHADOW_KO=$ko
if ! insmod "$ko"; then
	echo "vmashadow-guest: insmod $ko failed" >&2
	rc=1
	exit
fi

# KUnit suites built into the module ran at insmod; keep their KTAP results.
for suite in /sys/kernel/debug/kunit/vmashadow*/; do
	[ -r "$suite/results" ] && cat "$suite/results"
done >"$results/kunit.log"

cd "$tests/vmashadow" || { rc=1; exit; }
progs=()
if [ $# -gt 0 ]; then
	for t in "$@"; do progs+=("./$t"); done
else
	while read -r t; do
		[ -z "$t" ] || progs+=("./$t")
	done <tests.list
fi

# The kselftest runner, as run_kselftest.sh uses it (it reads
# vmashadow/settings for the timeout).
(
	set +eu
	export BASE_DIR=$tests
	# shellcheck disable=SC1091
	. "$tests/kselftest/runner.sh" || exit 1
	export COLLECTION=vmashadow
	echo "TAP version 13"
	echo "1..${#progs[@]}"
	run_many "${progs[@]}"
) 2>&1 | tee "$results/tap.log"
# Every program must have reported, even one that crashed or timed out.
reported=$(grep -cE '^(not )?ok [0-9]+ selftests: ' "$results/tap.log")
if [ "$reported" -ne "${#progs[@]}" ]; then
	echo "vmashadow-guest: $reported of ${#progs[@]} test programs reported" >&2
	rc=1
fi

# Every test leaves the module loaded as it found it; unloading at the end
# proves rmmod works after the whole run.
if [ -d /sys/module/vmashadow ]; then
	rmmod vmashadow || { echo "vmashadow-guest: final rmmod failed" >&2; rc=1; }
else
	echo "vmashadow-guest: module not loaded after the tests" >&2
	rc=1
fi

# Upstream's own maple tree tests (lib/test_maple_tree.c: a few million
# checks, among them patch 0001's check_rcu_free_full_nodes()) on the
# patched tree, under KASAN and lockdep. Its init fails if any check did.
if [ -n "$maple_ko" ]; then
	t0=$(date +%s)
	if insmod "$maple_ko" 2>"$results/maple-kmod.err"; then
		rmmod test_maple_tree
		verdict=ok
	else
		verdict="not ok"
	fi
	line=$(dmesg | grep -o 'maple_tree: [0-9]* of [0-9]* tests passed' | tail -n 1)
	[ -n "$line" ] || verdict="not ok"
	echo "$verdict 1 lib/test_maple_tree.ko: ${line:-no result line} ($(($(date +%s) - t0)) s)" \
		>"$results/maple-kmod-tap.log"
fi
