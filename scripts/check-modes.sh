#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The modes are listed once, in scripts/modes; the module (rust/mode.rs) and
# the selftests' header (selftests/vmashadow.h) cannot read that file, so
# this checks that they list the same modes, with the same numbers, in the
# same order. Run by make lint.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
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

# selftests/vmashadow.h: vms_modes[] in order, VMS_NR_MODES and VMS_SPEC.
h=$top/selftests/vmashadow.h
header=$(sed -n '/^static const char \*const vms_modes\[\]/,/};/p' "$h" |
	grep -o '"[a-z]*"' | tr -d '"' | awk '{ print NR - 1, $0 }')
compare selftests/vmashadow.h "$header"
nr=$(sed -n 's/^#define VMS_NR_MODES[[:space:]]*\([0-9]*\).*/\1/p' "$h")
[ "$nr" = "$(wc -l <<<"$want")" ] || {
	echo "check-modes: selftests/vmashadow.h: VMS_NR_MODES is '$nr', scripts/modes has $(wc -l <<<"$want") modes" >&2
	fail=1
}
spec=$(sed -n 's/^#define VMS_SPEC[[:space:]]*\([0-9]*\).*/\1/p' "$h")
[ "$spec" = "$(awk '$2 == "spec" { print $1 }' <<<"$want")" ] || {
	echo "check-modes: selftests/vmashadow.h: VMS_SPEC is '$spec', not spec's number in scripts/modes" >&2
	fail=1
}
[ "$fail" = 0 ] || exit 1
echo "check-modes: rust/mode.rs and selftests/vmashadow.h list the modes of scripts/modes ($(vms_modes | tr '\n' ' '| sed 's/ $//'))"
