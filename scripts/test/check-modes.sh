#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The modes are listed once, in scripts/modes; the module (rust/mode.rs) and
# the selftests' header (selftests/vmashadow.h) cannot read that file, so
# this checks that they list the same modes, with the same numbers, in the
# same order. And the counters' room, NR_COUNTERS, is written twice, in
# rust/stats.rs and shim/stats_shim.c: this checks that it is the same.
# Run by make lint; scripts/test/test-check-modes.sh tests it.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/scripts/lib.sh"

want=$(vms_modes_numbered)
fail=0
compare() { # what got
	if [ "$2" != "$want" ]; then
		printf 'check-modes: %s lists other modes than scripts/modes:\n' "$1" >&2
		diff <(echo "$want") <(echo "$2") | sed 's/^/  /' >&2 || true
		fail=1
	fi
}

# rust/mode.rs: the enum's "Variant = N," and name()'s "Mode::Variant => "name",".
m=$top/rust/mode.rs
rust=$(join <(sed -n '/^pub(crate) enum Mode/,/^}/s/^ *\([A-Za-z]*\) = \([0-9]*\),.*/\1 \2/p' "$m" | sort) \
	<(sed -n '/fn name(self)/,/^    }/s/.*Mode::\([A-Za-z]*\) => "\([a-z]*\)",.*/\1 \2/p' "$m" | sort) |
	awk '{ print $2, $3 }' | sort -n)
compare rust/mode.rs "$rust"

# selftests/vmashadow.h: vms_modes[] in order ...
h=$top/selftests/vmashadow.h
header=$(sed -n '/^static const char \*const vms_modes\[\]/,/};/p' "$h" |
	grep -o '"[a-z]*"' | tr -d '"' | awk '{ print NR - 1, $0 }')
compare selftests/vmashadow.h "$header"
# ... and enum vms_mode: VMS_<NAME> in the same order, then VMS_NR_MODES.
enum=$(sed -n 's/^enum vms_mode { *\(.*\) *};/\1/p' "$h" | tr -d ' ' | tr ',' '\n' |
	awk 'NF { print NR - 1, $0 }')
compare "selftests/vmashadow.h (enum vms_mode)" "$(sed -n 's/^\([0-9]*\) VMS_\([A-Z]*\)$/\1 \2/p' <<<"$enum" |
	grep -v ' NR$' | tr '[:upper:]' '[:lower:]' || true)"
[ "$(tail -n 1 <<<"$enum")" = "$(wc -l <<<"$want") VMS_NR_MODES" ] || {
	echo "check-modes: selftests/vmashadow.h: enum vms_mode must end with VMS_NR_MODES" >&2
	fail=1
}
# ... and VMS_FIXTURE_VARIANT_MODES: a variant per mode, named after it,
# .mode its VMS_<NAME>, in the same order.
variants=$(sed -n '/^#define VMS_FIXTURE_VARIANT_MODES/,/[^\\]$/s/.*FIXTURE_VARIANT_ADD(f, \([a-z]*\)) { \.mode = VMS_\([A-Z]*\) }.*/\1 \2/p' "$h" |
	awk '{ print NR - 1, (tolower($2) == $1 ? $1 : $1 " (.mode = VMS_" $2 ")") }')
compare "selftests/vmashadow.h (VMS_FIXTURE_VARIANT_MODES)" "$variants"

# NR_COUNTERS (rust/stats.rs) and VMASHADOW_NR_COUNTERS (shim/stats_shim.c):
# each a plain number, equal.
nr_rust=$(sed -n 's/^ *\(pub[a-z()]* \)\{0,1\}const NR_COUNTERS: usize = \([0-9]*\);.*/\2/p' "$top/rust/stats.rs")
nr_c=$(sed -n 's/^#define VMASHADOW_NR_COUNTERS[[:space:]]\{1,\}\([0-9]*\)[[:space:]]*$/\1/p' "$top/shim/stats_shim.c")
if ! [[ "$nr_rust" =~ ^[0-9]+$ && "$nr_c" =~ ^[0-9]+$ ]]; then
	echo "check-modes: cannot read the number of counters, a plain number in each of rust/stats.rs ('const NR_COUNTERS: usize = N;', found '${nr_rust//$'\n'/ }') and shim/stats_shim.c ('#define VMASHADOW_NR_COUNTERS N', found '${nr_c//$'\n'/ }')" >&2
	fail=1
elif [ "$nr_rust" != "$nr_c" ]; then
	echo "check-modes: NR_COUNTERS is $nr_rust in rust/stats.rs but VMASHADOW_NR_COUNTERS is $nr_c in shim/stats_shim.c: they must be equal" >&2
	fail=1
fi
[ "$fail" = 0 ] || exit 1
echo "check-modes: rust/mode.rs and selftests/vmashadow.h list the modes of scripts/modes ($(vms_modes | tr '\n' ' '| sed 's/ $//')); $nr_c counters in rust/stats.rs and shim/stats_shim.c"
