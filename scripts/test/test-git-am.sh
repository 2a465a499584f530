#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Does the series apply with git am, as docs/real-hardware.md tells a
# kernel developer to apply it, and give the tree the project builds? Run
# by make lint, after the kernel source is in the cache.
#
#   scripts/test/test-git-am.sh PRISTINE PATCHED
#
# PRISTINE is Debian's unpacked source (the series' base), PATCHED the tree
# scripts/build/fetch-kernel.sh made from it with patch -p1. A git tree is
# made of the files the series touches, taken from PRISTINE (git am reads
# no other file, and a whole tree would cost 1.8 GB and minutes), then the
# documented command runs in it, from another directory, with the paths it
# uses. Every file the series touches must then be byte for byte the one in
# PATCHED, and each patch must be one commit with its subject. Prints TAP.

set -uo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/tap.sh"

[ $# -eq 2 ] && [ -d "$1" ] && [ -d "$2" ] || die "usage: $0 PRISTINE PATCHED (kernel source trees)"
pristine=$1 patched=$2
tree=$tmp/linux
: >"$tmp/err"

mapfile -t patches < <(series_patches)
[ ${#patches[@]} -gt 0 ] || die "no patches in $VMS_TOP/kernel/patches"
mapfile -t files < <(series_files)

mkdir -p "$tree"
for f in "${files[@]}"; do
	[ -e "$pristine/$f" ] || continue # created by the series
	mkdir -p "$tree/$(dirname "$f")"
	cp -p "$pristine/$f" "$tree/$f"
done
git_q() { git -c user.name=vmashadow -c user.email=vmashadow@localhost -c init.defaultBranch=main "$@"; }
git_q -C "$tree" init -q && git_q -C "$tree" add -A && git_q -C "$tree" commit -q -m base &&
	git_q -C "$tree" tag base ||
	die "could not make a git tree in $tree"

# The documented command, word for word but for the tree's path, run from
# a directory that is neither the tree nor the clone.
(
	cd "$tmp" || exit 1
	# shellcheck disable=SC2046,SC2010 # one word per patch, as documented
	git_q -C "$tree" am -q $(ls "$VMS_TOP"/kernel/patches/*.patch | grep -v /0000-)
) >"$tmp/err" 2>&1
rc=$?
if [ "$rc" -eq 0 ]; then
	ok "git -C TREE am applies the ${#patches[@]} patches of kernel/patches to $KVER_PKG $KVER_DEB_VERSION"
else
	not_ok "git -C TREE am applies the series (exit $rc)"
	git -C "$tree" am --abort >/dev/null 2>&1
fi

commits=$(git -C "$tree" rev-list --count base..HEAD 2>/dev/null || echo 0)
# A patch's subject, its header unfolded (format-patch folds long ones).
want=$(for p in "${patches[@]}"; do
	awk '/^Subject: / { s = $0; f = 1; next }
		f && /^[ \t]/ { s = s $0; next }
		f { print s; exit }' "$p" | sed 's/^Subject: \[\(RFC \)\{0,1\}PATCH [0-9]*\/[0-9]*\] //; s/[ \t]\+/ /g'
done)
got=$(git -C "$tree" log --reverse --format=%s base..HEAD 2>/dev/null)
if [ "$commits" -eq ${#patches[@]} ] && [ "$got" = "$want" ]; then
	ok "one commit per patch, each with its patch's subject ($commits)"
else
	not_ok "one commit per patch with its subject: $commits commits for ${#patches[@]} patches"
fi

differ=()
for f in "${files[@]}"; do
	if [ -e "$patched/$f" ] || [ -e "$tree/$f" ]; then
		cmp -s "$patched/$f" "$tree/$f" || differ+=("$f")
	fi
done
if [ ${#differ[@]} -eq 0 ]; then
	ok "the ${#files[@]} files the series touches are those of the tree the project builds"
else
	not_ok "files that differ from the tree the project builds: ${differ[*]}"
fi

echo "1..$n"
exit "$failed"
