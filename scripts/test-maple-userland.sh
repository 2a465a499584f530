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
# The binaries are kept in $VMS_CACHE/maple-userland/, keyed by the series,
# kernel/tests and the compilers: a second run only runs them (about a
# minute, most of it the s390x suite under emulation).
# Prints TAP; exits non-zero on failure.
#
#   test-maple-userland.sh
#
# Environment: MAPLE_BE=0 skips the s390x half.

. "$(dirname "$0")/lib.sh"

[ $# -eq 0 ] || die "usage: $0"

BE_ARCH=s390x
BE_CC=$BE_ARCH-linux-gnu-gcc
BE_QEMU=qemu-$BE_ARCH
tests=$VMS_TOP/kernel/tests
bins=(mt_full_root maple_leakcheck)
modes=("" -c -a -n)
names=("RCU range_64 tree, full root node" "RCU range_64 tree, a lower node with 15 children"
	"control: RCU allocation-range tree" "control: range_64 tree, not RCU")

compilers() {
	gcc --version | head -n 1
	[ "${MAPLE_BE:-1}" = 0 ] || "$BE_CC" --version 2>/dev/null | head -n 1
}

key=$({
	src_key
	cat "$tests/maple-userland.mk" "$tests"/*.c
	compilers
} | sha256sum | cut -c1-16)
cache=$VMS_CACHE/maple-userland/$key
out=$(mktemp)
trap 'rm -f "$out"' EXIT

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
	src=$("$VMS_TOP/scripts/fetch-kernel.sh") || return 1
	cache_lock "radix-tree-$(basename "$(dirname "$src")")"
	dir=$src/tools/testing/radix-tree
	[ "$arch" = x86_64 ] ||
		flags=(ARCH=s390 CC="$BE_CC" VMS_QEMU_USER=1)
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

echo "TAP version 13"
suite x86_64
if [ "${MAPLE_BE:-1}" = 1 ]; then
	if command -v "$BE_CC" >/dev/null && command -v "$BE_QEMU" >/dev/null; then
		suite "$BE_ARCH" "$BE_QEMU"
	else
		not_ok "$BE_ARCH: $BE_CC and $BE_QEMU are installed (scripts/deps.sh)"
	fi
fi
echo "1..$n"
exit "$fail"
