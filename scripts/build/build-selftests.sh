#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the selftests against the uapi headers of one kernel flavour, into
# build/selftests-FLAVOUR/, in the layout of the kernel's
# kselftest_install.sh: run_kselftest.sh and kselftest-list.txt at the top,
# the runner in kselftest/, the tests in vmashadow/. Prints that directory.
# On a test box, copy the directory and run, as root, with the module
# loaded or its path given:
#
#   VMASHADOW_KO=/path/to/vmashadow.ko ./run_kselftest.sh [-t vmashadow:module_test]
#
#   scripts/build/build-selftests.sh perf|debug|kcsan

. "$(dirname "$0")/../lib.sh"

flavour_arg "$@"

kdir=$("$VMS_TOP/scripts/build-kernel.sh" "$flavour")
src=$("$VMS_TOP/scripts/build/fetch-kernel.sh")
# Laid out as kselftest_install.sh does: the runner in kselftest/, the
# collection in vmashadow/ with its settings, and the list to run.
out=$VMS_TOP/build/selftests-$flavour
coll=$out/vmashadow
mkdir -p "$coll" "$out/kselftest"
make -s -C "$VMS_TOP/selftests" KSRC="$src" KBUILD="$kdir" OUTPUT="$coll" >&2 ||
	die "selftests build failed"
cp "$VMS_TOP/selftests/settings" "$VMS_TOP/selftests/config" "$coll/"
cp "$src"/tools/testing/selftests/kselftest/{runner.sh,ktap_helpers.sh,prefix.pl} \
	"$out/kselftest/"
install -m 744 "$src/tools/testing/selftests/run_kselftest.sh" "$out/"
make -s -C "$VMS_TOP/selftests" KSRC="$src" KBUILD="$kdir" OUTPUT="$coll" \
	COLLECTION=vmashadow emit_tests >"$out/kselftest-list.txt"
sed -n 's/^vmashadow://p' "$out/kselftest-list.txt" >"$coll/tests.list"
[ -s "$coll/tests.list" ] || die "no selftests listed"
while read -r t; do
	[ -z "$t" ] || [ -x "$coll/$t" ] || cp "$VMS_TOP/selftests/$t" "$coll/$t"
done <"$coll/tests.list"
echo "$out"
