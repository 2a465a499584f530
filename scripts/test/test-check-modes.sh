#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Tests of scripts/test/check-modes.sh: the clone's own files pass; a copy of
# them in which one list of modes, or one of the two NR_COUNTERS, says
# something else fails and names what differs. TAP output. Run by
# scripts/test/lint.sh (make lint).

set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
. "$(dirname "$0")/tap.sh"
# What check-modes.sh reads, at the same paths in a tree of its own.
files=(scripts/test/check-modes.sh scripts/lib.sh scripts/modes rust/mode.rs
	rust/stats.rs shim/stats_shim.c selftests/vmashadow.h)

# A fresh copy of the files in $tmp/tree; then check-modes.sh of that copy.
copy() {
	local f
	rm -rf "$tmp/tree"
	for f in "${files[@]}"; do
		mkdir -p "$tmp/tree/$(dirname "$f")"
		cp "$top/$f" "$tmp/tree/$f"
	done
}
check() { bash "$tmp/tree/scripts/test/check-modes.sh" >"$tmp/out" 2>"$tmp/err"; }

# bad WHAT FILE SED WORDS...: with SED applied to FILE (it must change it),
# check-modes.sh fails and its error says each of WORDS.
bad() {
	local what=$1 f=$2 expr=$3 w
	shift 3
	copy
	sed -i "$expr" "$tmp/tree/$f"
	if cmp -s "$top/$f" "$tmp/tree/$f"; then
		echo "changed nothing in $f" >"$tmp/err"
		not_ok "$what (the test's sed changed nothing)"
		return
	fi
	if check; then
		not_ok "$what fails the check (it passed)"
		return
	fi
	for w in "$@"; do
		grep -qF -- "$w" "$tmp/err" || { not_ok "$what: the error says '$w'"; return; }
	done
	ok "$what fails the check: $(head -n 1 "$tmp/err" | cut -c1-100)"
}

copy
if check; then ok "the clone's files pass"; else not_ok "the clone's files pass"; fi

bad "NR_COUNTERS other in rust/stats.rs" rust/stats.rs \
	's/^const NR_COUNTERS: usize = [0-9]*;/const NR_COUNTERS: usize = 4096;/' \
	"NR_COUNTERS is 4096 in rust/stats.rs" "shim/stats_shim.c"
bad "VMASHADOW_NR_COUNTERS other in shim/stats_shim.c" shim/stats_shim.c \
	's/^#define VMASHADOW_NR_COUNTERS [0-9]*$/#define VMASHADOW_NR_COUNTERS 32/' \
	"VMASHADOW_NR_COUNTERS is 32 in shim/stats_shim.c" "must be equal"
bad "NR_COUNTERS not a plain number" rust/stats.rs \
	's/^const NR_COUNTERS: usize = [0-9]*;/const NR_COUNTERS: usize = 1 << 7;/' \
	"cannot read the number of counters" "rust/stats.rs"
bad "VMASHADOW_NR_COUNTERS missing" shim/stats_shim.c \
	's/^#define VMASHADOW_NR_COUNTERS /#define VMS_NR_COUNTERS /' \
	"cannot read the number of counters" "shim/stats_shim.c"
bad "a mode missing from VMS_FIXTURE_VARIANT_MODES" selftests/vmashadow.h \
	'/FIXTURE_VARIANT_ADD(f, pervma)/d' "VMS_FIXTURE_VARIANT_MODES"
bad "a variant of VMS_FIXTURE_VARIANT_MODES with another mode's value" selftests/vmashadow.h \
	's/{ \.mode = VMS_SHADOW }/{ .mode = VMS_SPEC }/' \
	"VMS_FIXTURE_VARIANT_MODES" "shadow (.mode = VMS_SPEC)"
bad "vms_modes[] in another order" selftests/vmashadow.h \
	's/"pervma", "shadow",/"shadow", "pervma",/' "selftests/vmashadow.h lists other modes"
bad "enum vms_mode without VMS_NR_MODES last" selftests/vmashadow.h \
	's/, VMS_NR_MODES };/ };/' "must end with VMS_NR_MODES"
bad "a mode named otherwise in rust/mode.rs" rust/mode.rs \
	's/Mode::Shadow => "shadow",/Mode::Shadow => "shade",/' "rust/mode.rs lists other modes"
bad "a mode more in scripts/modes" scripts/modes '/^4 spec/a 5 extra' \
	"rust/mode.rs lists other modes" "5 extra"

echo "1..$n"
exit "$failed"
