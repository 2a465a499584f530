#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make kernel-deb: Debian packages of the kernel of one flavour, for a real
# test machine (docs/real-hardware.md): the kernel's own bindeb-pkg, run in
# the cached build directory of scripts/build-kernel.sh (built first if it
# is not; EXTRA_CONFIG and KSRC are honoured as there). The packages
# (linux-image-*, linux-headers-*, linux-libc-dev_*, and the .buildinfo and
# .changes) go to build/kernel-deb-FLAVOUR/; prints their paths.
#
#   scripts/build/kernel-deb.sh perf|debug
#
# bindeb-pkg runs the kernel's make again in the build directory: nothing
# is rebuilt but what carries the package's version (init/version*.o, so
# vmlinux is linked again), and the build directory gains a debian/. Its
# check of the Build-Depends it generates (e.g. libdw-dev) is skipped
# (DPKG_FLAGS=-d): the kernel is built already, with the project's own
# toolchain (make deps).

. "$(dirname "$0")/../lib.sh"

flavour_arg "$@"

# dpkg-buildpackage and the debhelper commands debian/rules runs: only
# what is missing (apt-get install of an installed package upgrades it).
missing=()
command -v dpkg-buildpackage >/dev/null || missing+=(dpkg-dev)
command -v dh_testdir >/dev/null || missing+=(debhelper)
if [ ${#missing[@]} -gt 0 ]; then
	[ "$(id -u)" = 0 ] ||
		die "bindeb-pkg needs ${missing[*]}: apt-get install ${missing[*]} (as root)"
	mkdir -p "$VMS_CACHE"
	step "installing ${missing[*]}" with_progress "$VMS_CACHE/apt-deb.log" \
		apt-get install -q -y --no-install-recommends --no-remove "${missing[@]}" ||
		die "cannot install ${missing[*]} (see $VMS_CACHE/apt-deb.log)"
fi

kdir=$(step "kernel ($flavour)" "$VMS_TOP/scripts/build-kernel.sh" "$flavour")
src=$("$VMS_TOP/scripts/build/fetch-kernel.sh")
cache_lock "$(basename "$kdir")"
out=$VMS_TOP/build/kernel-deb-$flavour
# dpkg-buildpackage writes the packages next to the build directory.
parent=$(dirname "$kdir")
stamp=$kdir/.vmashadow-deb-start
touch "$stamp"
jobs=$(($(nproc) + 1))
# shellcheck disable=SC2046
step "bindeb-pkg ($flavour, -j$jobs)" with_progress "$kdir/deb-pkg.log" \
	make -C "$src" O="$kdir" $(kernel_make_flags) -j"$jobs" DPKG_FLAGS=-d bindeb-pkg ||
	die "bindeb-pkg failed (see $kdir/deb-pkg.log)"
mapfile -t files < <(find "$parent" -maxdepth 1 -type f -newer "$stamp" \
	\( -name '*.deb' -o -name '*.buildinfo' -o -name '*.changes' \))
rm -f "$stamp"
[ ${#files[@]} -gt 0 ] || die "bindeb-pkg wrote no package into $parent"
rm -rf "$out"
mkdir -p "$out"
mv "${files[@]}" "$out/"
log "packages of the $flavour kernel ($(cat "$kdir/include/config/kernel.release")) in $out;" \
	"install the image on the test box with: dpkg -i linux-image-*.deb (docs/real-hardware.md)"
find "$out" -maxdepth 1 -type f -name '*.deb' | sort
