#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The kernel's own VMA userland tests (tools/testing/vma) on the patched
# tree. They compile mm/vma.c and mm/vma_init.c against stubs, so the hook
# patch must keep them building and passing, as upstream mm review expects.
# Prints TAP; exits non-zero on failure.
#
#   test-vma-userland.sh

. "$(dirname "$0")/../lib.sh"

[ $# -eq 0 ] || die "usage: $0"
src=$("$VMS_TOP/scripts/build/fetch-kernel.sh")
cache_lock "vma-$(basename "$(dirname "$src")")"
dir=$src/tools/testing/vma
log=$(mktemp)
trap 'make -s -C "$dir" clean >/dev/null 2>&1; rm -f "$log"' EXIT

echo "TAP version 13"
echo "1..2"
if ! make -s -C "$dir" -j"$(nproc)" vma >"$log" 2>&1; then
	sed 's/^/# /' "$log" | tail -n 30
	echo "not ok 1 tools/testing/vma builds on the patched tree"
	echo "not ok 2 tools/testing/vma passes # SKIP not built"
	exit 1
fi
echo "ok 1 tools/testing/vma builds on the patched tree"
if (cd "$dir" && ./vma) >"$log" 2>&1; then
	echo "ok 2 tools/testing/vma passes: $(tail -n 1 "$log")"
else
	sed 's/^/# /' "$log" | tail -n 30
	echo "not ok 2 tools/testing/vma passes"
	exit 1
fi
