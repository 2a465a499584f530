#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the modules against the kernel of one flavour, with exactly that
# kernel's toolchain: vmashadow.ko, the crash test's vmashadow_crash.ko
# (test only, it can oops the kernel) and vmashadow_hooktest.ko (test only,
# a hook of its own). Outputs go to build/module-FLAVOUR/ (MO=), never into
# the source tree. Prints the path of vmashadow.ko on the first line, of
# vmashadow_crash.ko on the second, of vmashadow_hooktest.ko on the third.
#
#   scripts/build/build-module.sh perf|debug|kcsan [extra make args...]

. "$(dirname "$0")/../lib.sh"

flavour=${1:-}
case "$flavour" in
perf | debug | kcsan) shift ;;
*) die "usage: $0 perf|debug|kcsan [make args...]" ;;
esac

kdir=$("$VMS_TOP/scripts/build-kernel.sh" "$flavour")
mo=$VMS_TOP/build/module-$flavour
mkdir -p "$mo"
# shellcheck disable=SC2046
make -s -C "$kdir" M="$VMS_TOP" MO="$mo" $(kernel_make_flags) "$@" modules >&2 ||
	die "module build failed"
for m in vmashadow vmashadow_crash vmashadow_hooktest; do
	[ -f "$mo/$m.ko" ] || die "module build produced no $m.ko"
done
echo "$mo/vmashadow.ko"
echo "$mo/vmashadow_crash.ko"
echo "$mo/vmashadow_hooktest.ko"
