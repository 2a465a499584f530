#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The regression tests of patch 0001 (maple_tree: fix freeing full range_64
# nodes in RCU mode) with the kernel's userspace maple tree harness
# (tools/testing/radix-tree: lib/maple_tree.c itself, liburcu) on the patched
# tree, on a little- and a big-endian machine:
#
#   mt_full_root (kernel/tests/mt_full_root.c) in its four modes: the two
#     shapes that hit the bug and the two controls;
#   maple_leakcheck -r (kernel/tests/maple_leakcheck.c):
#     check_rcu_free_full_nodes(), the patch's test in lib/test_maple_tree.c,
#     then no maple node may be left after rcu_barrier();
#   maple_leakcheck: all of lib/test_maple_tree.c, then the same leak check;
#
# on x86_64 with ASan and UBSan, and cross-built for s390x (big-endian) under
# qemu-user with UBSan only (ASan cannot map its shadow memory there).
# The s390x build takes Debian's s390x liburcu from a sysroot in the cache
# (scripts/build/fetch-urcu.sh; no foreign dpkg architecture), and runs with the
# cross C library (libc6-s390x-cross) as qemu-user's -L prefix. If that
# cannot be set up (no cross compiler or qemu-user, the mirror unreachable),
# the s390x tests are reported as skipped, with the reason.
# The binaries are kept in $VMS_CACHE/maple-userland/, keyed by the series,
# kernel/tests and the compilers: a second run only runs them (about a
# minute, most of it the s390x suite under emulation).
# Prints TAP; exits non-zero on failure.
#
#   test-maple-userland.sh
#
# Environment: MAPLE_BE=0 skips the s390x half.

. "$(dirname "$0")/../lib.sh"

[ $# -eq 0 ] || die "usage: $0"

BE_ARCH=s390x
BE_CC=$BE_ARCH-linux-gnu-gcc
BE_QEMU=qemu-$BE_ARCH
tests=$VMS_TOP/kernel/tests
bins=(mt_full_root maple_leakcheck)
modes=("" -c -a -n)
names=("RCU range_64 tree, full root node" "RCU range_64 tree, a lower node with 15 children"
	"control: RCU allocation-range tree" "control: range_64 tree, not RCU")

out=$(mktemp)
trap 'rm -f "$out"' EXIT

# The s390x half: why it cannot run (empty if it can), its liburcu sysroot,
# and qemu-user's prefix: the cross C library, whose lib/ goes first in the
# guest's library path too (a host's own libc6:s390x must not mix in).
be_skip=
be_sysroot=
be_prefix=
if [ "${MAPLE_BE:-1}" = 1 ]; then
	if ! command -v "$BE_CC" >/dev/null; then
		be_skip="no $BE_CC (gcc-s390x-linux-gnu: scripts/build/deps.sh)"
	elif ! command -v "$BE_QEMU" >/dev/null; then
		be_skip="no $BE_QEMU (qemu-user: scripts/build/deps.sh)"
	elif ! be_prefix=$(realpath -e "$("$BE_CC" -print-file-name=libc.so.6)" 2>/dev/null); then
		be_skip="no C library for $BE_CC (libc6-dev-s390x-cross: scripts/build/deps.sh)"
	elif ! be_sysroot=$("$VMS_TOP/scripts/build/fetch-urcu.sh" 2>"$out"); then
		be_skip="no $BE_ARCH liburcu: $({ grep -m1 'error:' "$out" || tail -n 1 "$out"; } | sed 's/^vmashadow: error: //')"
	fi
	[ -n "$be_skip" ] || be_prefix=$(dirname "$(dirname "$be_prefix")")
fi

compilers() {
	gcc --version | head -n 1
	[ "${MAPLE_BE:-1}" = 0 ] || [ -n "$be_skip" ] || {
		"$BE_CC" --version | head -n 1
		echo "$be_sysroot $be_prefix"
	}
}

key=$({
	src_key
	cat "$tests/maple-userland.mk" "$tests"/*.[ch]
	compilers
} | sha256sum | cut -c1-16)
cache=$VMS_CACHE/maple-userland/$key

n=0
fail=0
ok() {
	n=$((n + 1))
	echo "ok $n $*"
}
not_ok() {
	n=$((n + 1))
	echo "not ok $n $*"
	fail=1
}

# Build $bins for arch $1 (x86_64 or $BE_ARCH) into $cache/$1, unless there.
build() {
	local arch=$1 src dir flags=()
	[ -x "$cache/$arch/maple_leakcheck" ] && return 0
	src=$("$VMS_TOP/scripts/build/fetch-kernel.sh") || return 1
	cache_lock "radix-tree-$(basename "$(dirname "$src")")"
	dir=$src/tools/testing/radix-tree
	[ "$arch" = x86_64 ] ||
		flags=(ARCH=s390 CC="$BE_CC" VMS_QEMU_USER=1 VMS_SYSROOT="$be_sysroot")
	make -s -C "$dir" clean >/dev/null 2>&1 || true
	if make -s -C "$dir" -f Makefile -f "$tests/maple-userland.mk" \
		VMS_TESTS="$tests" "${flags[@]}" "${bins[@]}"; then
		mkdir -p "$cache/$arch.tmp"
		(cd "$dir" && cp "${bins[@]}" "$cache/$arch.tmp/")
		rm -rf "${cache:?}/$arch"
		mv "$cache/$arch.tmp" "$cache/$arch"
		# Binaries of old series or tests are only cache; keep a few.
		# shellcheck disable=SC2012 # the names are hex keys
		ls -dt "$VMS_CACHE"/maple-userland/*/ | tail -n +4 | xargs -r rm -rf
	fi
	make -s -C "$dir" clean >/dev/null 2>&1 || true
	[ -x "$cache/$arch/maple_leakcheck" ]
}

# Run test $2 (a name) as command $3... and pass if it exits 0 and prints $1.
run() {
	local want=$1 name=$2
	shift 2
	# ASan and UBSan report on stderr and make the run exit non-zero.
	if "$@" >"$out" 2>&1 && grep -q "$want" "$out"; then
		ok "$name # $(grep -m1 -E 'stores|tests passed' "$out")"
	else
		sed 's/^/# /' "$out" | grep -av '^#  ' | head -n 30
		not_ok "$name"
	fi
}

suite() {
	local arch=$1 qemu=("${@:2}") i
	if ! build "$arch" >"$out" 2>&1; then
		sed 's/^/# /' "$out" | tail -n 30
		not_ok "$arch: ${bins[*]} build with tools/testing/radix-tree"
		return
	fi
	ok "$arch: ${bins[*]} build with tools/testing/radix-tree"
	for i in "${!modes[@]}"; do
		# shellcheck disable=SC2086
		run "destroyed, no error" "$arch: freed cleanly: ${names[$i]}" \
			"${qemu[@]}" "$cache/$arch/mt_full_root" ${modes[$i]}
	done
	run "no leaked nodes" "$arch: check_rcu_free_full_nodes(), no leaked node" \
		"${qemu[@]}" "$cache/$arch/maple_leakcheck" -r
	run "no leaked nodes" "$arch: all of lib/test_maple_tree.c, no leaked node" \
		"${qemu[@]}" "$cache/$arch/maple_leakcheck"
}

# The suite's tests of arch $1, all skipped for reason $2.
skip_suite() {
	local i
	ok "$1: ${bins[*]} build with tools/testing/radix-tree # SKIP $2"
	for i in "${!modes[@]}"; do
		ok "$1: freed cleanly: ${names[$i]} # SKIP $2"
	done
	ok "$1: check_rcu_free_full_nodes(), no leaked node # SKIP $2"
	ok "$1: all of lib/test_maple_tree.c, no leaked node # SKIP $2"
}

echo "TAP version 13"
suite x86_64
if [ "${MAPLE_BE:-1}" = 1 ]; then
	if [ -z "$be_skip" ]; then
		suite "$BE_ARCH" "$BE_QEMU" -L "$be_prefix" -E "LD_LIBRARY_PATH=$be_prefix/lib"
	else
		skip_suite "$BE_ARCH" "$be_skip"
	fi
fi
echo "1..$n"
exit "$fail"
