#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Debian's s390x liburcu, for the big-endian run of the maple tree's userland
# tests (scripts/test/test-maple-userland.sh), without adding s390x to dpkg's
# architectures: liburcu-dev and the library package it depends on (liburcu8
# on bookworm, liburcu8t64 on trixie), at the version of the machine's own
# liburcu-dev, downloaded as .debs from the machine's Debian mirror and
# unpacked (dpkg-deb -x) into $VMS_CACHE/urcu-s390x/VERSION/: a sysroot with
# usr/include/s390x-linux-gnu and usr/lib/s390x-linux-gnu. Prints its path.
#
# The .debs are verified: the suite's InRelease is checked with gpgv (or
# sqv, trixie's apt's verifier) against the Debian archive keyring; it holds
# the SHA256 of main/binary-s390x/Packages.xz, which holds each .deb's.
#
#   scripts/build/fetch-urcu.sh           fetch unless cached; print the sysroot
#   scripts/build/fetch-urcu.sh --cached  print the sysroot if cached, else exit 1
#
# Fails (with the reason on stderr) if it cannot: no network, a mirror out
# of sync, no liburcu-dev here. Needs no root: only $VMS_CACHE is written.

. "$(dirname "$0")/../lib.sh"

ARCH=s390x
TRIPLET=s390x-linux-gnu

cached_only=0
case "${1:-}" in
"") ;;
--cached) cached_only=1 ;;
*) die "usage: $0 [--cached]" ;;
esac
[ $# -le 1 ] || die "usage: $0 [--cached]"

# The version of the native package $1 installed, if it is.
installed_version() {
	dpkg-query -W -f='${Status} ${Version}\n' "$1:$(dpkg --print-architecture)" 2>/dev/null |
		awk '$1 == "install" && $3 == "installed" { print $4 }'
}

ver=$(installed_version liburcu-dev)
[ -n "$ver" ] || die "liburcu-dev is not installed (scripts/build/deps.sh): its version is the one fetched for $ARCH"
root=$VMS_CACHE/urcu-$ARCH/${ver//:/%3a}
if [ -f "$root/.ok" ]; then
	echo "$root"
	exit 0
fi
[ "$cached_only" = 0 ] || exit 1

cache_lock "urcu-$ARCH"
if [ -f "$root/.ok" ]; then # fetched by another run meanwhile
	echo "$root"
	exit 0
fi

# Where this version comes from: "URI SUITE" of the first of the machine's
# sources that has it (apt-cache policy's version table), else the
# release itself on the machine's mirror.
origin=$(LC_ALL=C apt-cache policy liburcu-dev 2>/dev/null | awk -v want="$ver" '
	$1 == "***" { v = $2; next }
	NF == 2 && $2 ~ /^-?[0-9]+$/ { v = $1; next }
	v == want && $2 ~ /^https?:\/\// && !o { split($3, s, "/"); o = $2 " " s[1] }
	END { print o }')
[ -n "$origin" ] || origin="$(debian_mirror) $(os_field VERSION_CODENAME)"
read -r uri suite <<<"$origin"
uri=${uri%/}

tmp=$(mktemp -d "$VMS_CACHE/urcu-$ARCH.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# Download $1 (a URL) to $2, with apt's own downloader (apt's proxy
# settings; checks SHA256 $3 if given).
download() {
	/usr/lib/apt/apt-helper download-file "$1" "$2" ${3:+"SHA256:$3"} \
		>"$tmp/dl.log" 2>&1 || {
		sed 's/^/  /' "$tmp/dl.log" >&2
		die "cannot download $1"
	}
	if [ -n "${3:-}" ] && [ "$(sha256sum <"$2" | cut -d' ' -f1)" != "$3" ]; then
		die "$1: SHA256 is not $3"
	fi
}

# The suite's InRelease, its signature checked as apt does.
download "$uri/dists/$suite/InRelease" "$tmp/InRelease"
key=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f "$key" ] || key=/usr/share/keyrings/debian-archive-keyring.pgp
[ -f "$key" ] || die "no Debian archive keyring in /usr/share/keyrings (debian-archive-keyring)"
if command -v gpgv >/dev/null; then
	gpgv --keyring "$key" --output "$tmp/Release" "$tmp/InRelease" >"$tmp/sig.log" 2>&1
elif command -v sqv >/dev/null; then
	sqv --keyring "$key" --output "$tmp/Release" --cleartext "$tmp/InRelease" >"$tmp/sig.log" 2>&1
else
	die "neither gpgv nor sqv is installed: cannot check $uri/dists/$suite/InRelease"
fi || {
	sed 's/^/  /' "$tmp/sig.log" >&2
	die "$uri/dists/$suite/InRelease: bad signature (Debian archive keyring $key)"
}

# Packages.xz for $ARCH: by its hash where the mirror has by-hash (a
# mirror in sync or not, the file the Release names), else by name.
index=main/binary-$ARCH/Packages.xz
sum=$(awk -v f="$index" '/^[^ ]/ { in256 = ($1 == "SHA256:") } in256 && $3 == f { print $1; exit }' "$tmp/Release")
[ -n "$sum" ] || die "$uri/dists/$suite/InRelease lists no $index"
if grep -qx 'Acquire-By-Hash: yes' "$tmp/Release" &&
	(download "$uri/dists/$suite/main/binary-$ARCH/by-hash/SHA256/$sum" "$tmp/Packages.xz" "$sum") 2>/dev/null; then
	:
else
	download "$uri/dists/$suite/$index" "$tmp/Packages.xz" "$sum"
fi

# "FILENAME SHA256 DEPENDS" of package $1 at $ver in the index.
entry() {
	# (No early exit: xz would die of SIGPIPE, and pipefail fail this.)
	xz -dc "$tmp/Packages.xz" | awk -v p="$1" -v v="$ver" '
		/^$/ { if (pkg == p && version == v) print fn, sha, dep; pkg = version = fn = sha = dep = ""; next }
		/^Package: / { pkg = $2 }
		/^Version: / { version = $2 }
		/^Filename: / { fn = $2 }
		/^SHA256: / { sha = $2 }
		/^Depends: / { dep = substr($0, 10); gsub(/ /, "", dep) }
		END { if (pkg == p && version == v) print fn, sha, dep }'
}

read -r fn sha dep <<<"$(entry liburcu-dev)"
[ -n "${fn:-}" ] || die "$uri/dists/$suite/$index has no liburcu-dev $ver (this machine's version)"
# liburcu-dev depends on its library package at the same version.
pkgs=("liburcu-dev $fn $sha")
for d in ${dep//,/ }; do
	[[ "$d" == *"(=$ver)" ]] || continue
	p=${d%%(*}
	read -r f s _ <<<"$(entry "$p")"
	[ -n "${f:-}" ] || die "$uri/dists/$suite/$index has no $p $ver (liburcu-dev depends on it)"
	pkgs+=("$p $f $s")
done
[ ${#pkgs[@]} -ge 2 ] || die "liburcu-dev $ver for $ARCH depends on no library package at its version (Depends: $dep)"

mkdir -p "$tmp/root"
for e in "${pkgs[@]}"; do
	read -r p f s <<<"$e"
	download "$uri/$f" "$tmp/$p.deb" "$s"
	dpkg-deb -x "$tmp/$p.deb" "$tmp/root"
done
[ -f "$tmp/root/usr/include/$TRIPLET/urcu.h" ] && [ -e "$tmp/root/usr/lib/$TRIPLET/liburcu.so" ] ||
	die "liburcu-dev $ver for $ARCH: no usr/include/$TRIPLET/urcu.h or usr/lib/$TRIPLET/liburcu.so in the packages"
rm -rf "$tmp/root/usr/share"
printf '%s\n' "${pkgs[@]}" >"$tmp/root/.ok"
rm -rf "$root"
mkdir -p "$(dirname "$root")"
mv "$tmp/root" "$root"
# Other versions' sysroots are only cache.
find "$VMS_CACHE/urcu-$ARCH" -mindepth 1 -maxdepth 1 -type d ! -path "$root" -exec rm -rf {} +
echo "$root"
