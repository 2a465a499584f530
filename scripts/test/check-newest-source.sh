#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Does the series still apply to the newest linux-source-7.* the machine's
# apt sources offer? The project builds a pinned version (scripts/lib.sh);
# when the archive moves on, this says so, and whether a rebase is needed,
# before a fresh machine meets it. It reports and never fails (exit 0), but
# for bad usage: make lint runs it.
#
#   scripts/test/check-newest-source.sh
#
# With the pinned version the newest, it downloads nothing. Otherwise it
# downloads the newer .deb once into the cache ($VMASHADOW_CACHE/dl), takes
# from its tarball only the files the series touches, and applies the
# patches to them in order, in a scratch directory.

. "$(dirname "$0")/../lib.sh"

[ $# -eq 0 ] || die "usage: $0 (no arguments)"

newest=$(apt-cache pkgnames linux-source-7. 2>/dev/null | while read -r pkg; do
	apt-cache madison "$pkg" 2>/dev/null | awk -v p="$pkg" '{ print $3, p }'
done | sort -V -k1,1 | tail -n 1)
if [ -z "$newest" ]; then
	log "newest kernel source: no linux-source-7.* in this machine's apt sources (run make deps); not checked"
	exit 0
fi
read -r version pkg <<<"$newest"
if [ "$pkg" = "$KVER_PKG" ] && [ "$version" = "$KVER_DEB_VERSION" ]; then
	log "newest kernel source: the pinned $KVER_PKG $KVER_DEB_VERSION is the newest this machine's apt sources offer"
	exit 0
fi

dl=$VMS_CACHE/dl
mkdir -p "$dl"
deb=$dl/${pkg}_${version//:/%3a}_all.deb
if [ ! -f "$deb" ] && ! (cd "$dl" && apt-get download -q "$pkg=$version" >/dev/null 2>&1); then
	log "newest kernel source: $pkg $version is newer than the pinned $KVER_PKG $KVER_DEB_VERSION, but could not be downloaded; not checked"
	exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mapfile -t patches < <(series_patches)
mapfile -t files < <(series_files)
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" --wildcards '*usr/src/linux-source-*.tar.xz' 2>/dev/null || true
tarball=$(find "$tmp/usr/src" -name 'linux-source-*.tar.xz' 2>/dev/null | head -n 1)
if [ -z "$tarball" ]; then
	log "newest kernel source: no tarball in $deb; not checked"
	exit 0
fi
top=$(basename "$tarball" .tar.xz)
mkdir -p "$tmp/tree"
# Only the files the series touches (those it creates are not there).
members=()
for f in "${files[@]}"; do
	members+=("$top/$f")
done
tar -xJf "$tarball" -C "$tmp/tree" --strip-components=1 "${members[@]}" 2>/dev/null || true # the created files are not there
failed=()
for p in "${patches[@]}"; do
	if patch -d "$tmp/tree" -p1 --quiet --forward --batch --fuzz=0 <"$p" >"$tmp/patch.log" 2>&1; then
		continue
	fi
	failed+=("$(basename "$p")")
done
if [ ${#failed[@]} -eq 0 ]; then
	log "newest kernel source: the series applies to $pkg $version (newer than the pinned $KVER_DEB_VERSION): the pin can move"
else
	log "newest kernel source: WARNING: the series does not apply to $pkg $version (newer than the pinned $KVER_DEB_VERSION): a rebase is due; patches that failed: ${failed[*]}"
fi
exit 0
