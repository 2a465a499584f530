#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Fetch Debian's linux-source-7.3 (pinned, SHA-256 verified), unpack it once
# into the cache and apply kernel/patches/*.patch in order. Prints the path of
# the patched tree. The patched tree is keyed by the series, so changing a
# patch makes a new tree and never touches an old one.
#
# With KSRC=/path/to/linux (the user's own tree, the series applied) it
# checks that tree and prints its path instead: nothing is fetched.

. "$(dirname "$0")/../lib.sh"

[ $# -eq 0 ] || die "usage: $0 (no arguments)"

if [ -n "${KSRC:-}" ]; then
	ksrc_dir
	exit 0
fi

cache_lock fetch
dl=$VMS_CACHE/dl
pristine=$VMS_CACHE/pristine-$KVER_DEB_VERSION
src=$(src_dir)
mkdir -p "$dl"

if [ ! -f "$pristine/.unpacked" ]; then
	deb=$dl/${KVER_PKG}_${KVER_DEB_VERSION//:/%3a}_all.deb
	version=$KVER_DEB_VERSION
	if [ ! -f "$deb" ]; then
		if ! (cd "$dl" && apt-get download -q "$KVER_PKG=$KVER_DEB_VERSION" \
			>"$dl/download.log" 2>&1); then
			# The pinned version left the archive: take the newest 7.3.x.
			version=$(apt-cache madison "$KVER_PKG" | awk '{print $3}' |
				sort -V | tail -n 1)
			[ -n "$version" ] ||
				die "$KVER_PKG is not in any apt source (run scripts/build/deps.sh)"
			log "WARNING: pinned $KVER_PKG $KVER_DEB_VERSION is gone from the archive;"
			log "WARNING: falling back to $version (not the tested version)"
			(cd "$dl" && apt-get download -q "$KVER_PKG=$version") ||
				die "cannot download $KVER_PKG=$version"
			deb=$(printf '%s\n' "$dl/${KVER_PKG}"_*_all.deb | sort -V | tail -n 1)
			KVER_DEB_SHA256=
		fi
	fi
	if [ "$version" = "$KVER_DEB_VERSION" ]; then
		echo "$KVER_DEB_SHA256  $deb" | sha256sum -c --quiet - ||
			die "SHA-256 of $deb does not match the pinned $KVER_DEB_SHA256"
	fi
	log "unpacking $(basename "$deb")"
	rm -rf "$pristine" "$pristine.tmp"
	mkdir -p "$pristine.tmp"
	dpkg-deb --fsys-tarfile "$deb" |
		tar -x -C "$pristine.tmp" --wildcards './usr/src/linux-source-*.tar.xz'
	tar -xJf "$pristine.tmp"/usr/src/linux-source-*.tar.xz -C "$pristine.tmp"
	rm -rf "$pristine.tmp/usr"
	mv "$pristine.tmp"/linux-source-* "$pristine.tmp/linux"
	mv "$pristine.tmp" "$pristine"
	touch "$pristine/.unpacked"
fi

if [ ! -f "$src/.patched" ]; then
	rm -rf "$(dirname "$src")"
	mkdir -p "$(dirname "$src")"
	log "copying pristine tree to $src"
	cp -a --reflink=auto "$pristine/linux" "$src.tmp"
	for p in $(series_patches); do
		log "applying $(basename "$p")"
		patch -d "$src.tmp" -p1 --quiet --forward <"$p" ||
			die "$(basename "$p") does not apply to $KVER_PKG $KVER_DEB_VERSION"
	done
	mv "$src.tmp" "$src"
	touch "$src/.patched"
	# Old patched trees are only cache; keep the newest few.
	# shellcheck disable=SC2012 # ls -t sorts by age; the names are hashes
	ls -dt "$VMS_CACHE"/src/*/ 2>/dev/null | tail -n +4 | xargs -r rm -rf
fi

echo "$src"
