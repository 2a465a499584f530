#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The regression test of patch 0001 (maple_tree: fix freeing full range_64
# nodes in RCU mode), kernel/tests/mt_full_root.c, built with the kernel's
# userspace maple tree harness (tools/testing/radix-tree: lib/maple_tree.c
# itself, ASan and UBSan, liburcu) on the patched tree, then run in its
# four modes: the two shapes that hit the bug and the two controls.
# Prints TAP; exits non-zero on failure.
#
#   test-maple-userland.sh

. "$(dirname "$0")/lib.sh"

[ $# -eq 0 ] || die "usage: $0"
src=$("$VMS_TOP/scripts/fetch-kernel.sh")
cache_lock "radix-tree-$(basename "$(dirname "$src")")"
dir=$src/tools/testing/radix-tree
log=$(mktemp)
trap 'make -s -C "$dir" clean >/dev/null 2>&1; rm -f "$log"' EXIT

modes=("" -c -a -n)
names=("RCU range_64 tree, full root node" "RCU range_64 tree, a lower node with 15 children"
	"control: RCU allocation-range tree" "control: range_64 tree, not RCU")
echo "TAP version 13"
echo "1..$((1 + ${#modes[@]}))"
if ! make -s -C "$dir" -f Makefile -f "$VMS_TOP/kernel/tests/maple-userland.mk" \
	VMS_TESTS="$VMS_TOP/kernel/tests" mt_full_root >"$log" 2>&1; then
	sed 's/^/# /' "$log" | tail -n 30
	echo "not ok 1 mt_full_root builds with tools/testing/radix-tree"
	exit 1
fi
echo "ok 1 mt_full_root builds with tools/testing/radix-tree"
fail=0
for i in "${!modes[@]}"; do
	# ASan reports go to stderr and make the run exit non-zero.
	if (cd "$dir" && ./mt_full_root ${modes[$i]:+"${modes[$i]}"}) >"$log" 2>&1 &&
		grep -q "destroyed, no error" "$log"; then
		echo "ok $((i + 2)) freed cleanly: ${names[$i]} # $(grep -m1 stores "$log")"
	else
		sed 's/^/# /' "$log" | head -n 30
		echo "not ok $((i + 2)) freed cleanly: ${names[$i]}"
		fail=1
	fi
done
exit "$fail"
