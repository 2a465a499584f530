#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the kernel's own mm selftests (tools/testing/selftests/mm of the
# patched tree) against the uapi headers of one kernel flavour, with the
# kselftest tooling (lib.mk, make install), into build/upstream-mm-FLAVOUR/.
# Prints the directory the tests are installed in (run_vmtests.sh and the
# test programs).
#
#   scripts/build/build-upstream-mm.sh perf|debug
#
# The cached source tree is never written: mm/Makefile probes liburing with
# check_config.sh into its own directory (local_config.mk), so the
# selftests' part of the tree is copied into build/ first (rsync, a few
# MB) and the rest of the source (tools/include, mm/gup_test.h) is reached
# through read-only symlinks. Objects go to OUTPUT=, the install to
# INSTALL_PATH=. page_frag (a test module of its own, about the page
# fragment allocator, not VMAs) is left out: KDIR= points nowhere.

. "$(dirname "$0")/../lib.sh"

flavour_arg "$@"

kdir=$("$VMS_TOP/scripts/build-kernel.sh" "$flavour")
src=$("$VMS_TOP/scripts/build/fetch-kernel.sh")
[ -d "$kdir/usr/include/linux" ] || die "no uapi headers in $kdir/usr/include (make headers)"

top=$VMS_TOP/build/upstream-mm-$flavour
tree=$top/src
inst=$top/install
mkdir -p "$tree/tools/testing" "$top/obj" "$inst"
# The selftests tree (lib.mk, the harness, mm/, x86/'s compiler probes,
# pidfd.h): copied, so that check_config.sh writes into the copy.
rsync -a --delete --exclude local_config.mk --exclude local_config.h_gen \
	"$src/tools/testing/selftests" "$tree/tools/testing/" >&2 ||
	die "copying $src/tools/testing/selftests failed"
# Read-only parts, by reference: tools/include (TOOLS_INCLUDES) and the
# kernel's mm/ (gup_test.h), lib/ (test_hmm_uapi.h), include/, arch/.
for d in tools/include mm include lib arch; do
	ln -sfn "$src/$d" "$tree/$d"
done

# 32-bit protection_keys needs gcc-multilib: probed by the Makefile itself,
# left out without it. LLVM is not used: the host's gcc builds user space.
# shellcheck disable=SC2086
make -C "$tree/tools/testing/selftests/mm" -j"$(nproc)" \
	OUTPUT="$top/obj" KHDR_INCLUDES="-isystem $kdir/usr/include" \
	KDIR=/nonexistent INSTALL_PATH="$inst" install >"$top/build.log" 2>&1 || {
	tail -n 30 "$top/build.log" >&2
	die "mm selftests build failed (see $top/build.log)"
}
for t in run_vmtests.sh mremap_test guard-regions cow uffd-unit-tests; do
	[ -e "$inst/$t" ] || die "mm selftests build: no $t in $inst"
done
echo "$inst"
