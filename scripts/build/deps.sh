#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Install what the build, the VM runner and the lint need, skipping what is
# present. Idempotent. Debian 12 (bookworm) and Debian 13 (trixie) only;
# anywhere else it prints exactly what is missing and stops.
#
#   scripts/build/deps.sh [--for all|bench-host]           install what is missing (as root)
#   scripts/build/deps.sh --check [--for all|bench-host]   only report, exit 1 if something is missing
#
# What a target needs: all (the default) is every make target of a clone
# on this machine. With KSRC= (your own kernel tree) Debian's kernel source
# is not needed, nor trixie-backports, which only serves it. bench-host (a
# box already running a kernel with the series, make bench-host) needs the
# toolchain that builds the module and the bench program, and nothing that
# boots a guest: no QEMU, virtme-ng, trinity, stress-ng, s390x cross
# compiler, bindgen or kernel source; the report's venv is optional there
# (without it make bench-host keeps the raw data).
#
# What it changes on the host, as root, and nothing else:
# - apt sources: /etc/apt/sources.list.d/vmashadow-trixie-backports.sources
#   (linux-source-7.3 is only there) and, on bookworm,
#   vmashadow-bookworm-backports.sources (QEMU 10). Each uses the mirror URI
#   of the machine's own sources (one-line or deb822, read by apt itself);
#   a suite the machine already has is not added again. Each is for the
#   native architecture only (an Architectures: line, added to such a file
#   written before without one): nothing foreign comes from these suites,
#   and on a machine with foreign dpkg architectures (its own multiarch, or
#   s390x added by an older deps.sh) their foreign indices need not be in
#   sync on the mirror (trixie-backports' s390x one was not, and failed
#   apt-get update).
# - apt pins: on bookworm only, /etc/apt/preferences.d/vmashadow-trixie pins
#   trixie-backports to -1, so nothing from trixie is ever installed there
#   (scripts/build/fetch-kernel.sh only downloads the kernel source .deb).
# - no foreign dpkg architecture: the maple tree's userland tests also run
#   big-endian, cross-built for s390x (gcc-s390x-linux-gnu,
#   libc6-dev-s390x-cross) and run under qemu-user, against Debian's s390x
#   liburcu, which scripts/build/fetch-urcu.sh downloads (verified) from the
#   machine's mirror and unpacks into $VMASHADOW_CACHE/urcu-s390x/ (no
#   root needed). If it cannot, this warns and goes on: those tests are
#   then skipped.
# - Debian packages: the lists below, installed with --no-install-recommends
#   --no-remove (apt never removes a package of the machine's); apt-get
#   update when something is to be installed.
# - bindgen-cli in $CARGO_HOME/bin (default ~/.cargo/bin), built by Debian's
#   cargo (cargo-web) from crates.io.
# - a Python venv in $VMASHADOW_CACHE/venv (virtme-ng and the bench
#   report's packages, from PyPI).

. "$(dirname "$0")/../lib.sh"

usage="usage: $0 [--check] [--for all|bench-host]"
check_only=0 target=all
while [ $# -gt 0 ]; do
	case "$1" in
	--check) check_only=1; shift ;;
	--for)
		case "${2:-}" in
		all | bench-host) target=$2 ;;
		*) die "--for: '${2:-}' is not a target this knows (all or bench-host); $usage" ;;
		esac
		shift 2 ;;
	*) die "$usage" ;;
	esac
done
# Debian's kernel source: only for the kernel this clone builds itself.
need_ksource=1
[ "$target" = all ] && [ -z "${KSRC:-}" ] || need_ksource=0

# Debian packages, the same on bookworm and trixie. The -web Rust (1.96) is
# Debian's newer toolchain for both releases: bookworm's plain rustc (1.63)
# is too old for the kernel (it wants >= $VMS_RUSTC_MIN) and trixie's (1.85)
# would build a kernel with another compiler than the tested one.
# stress-ng and trinity run in the guest (make stress, make test's slice),
# which sees the host's root filesystem; libnuma, liburing and libcap are
# what the kernel's mm selftests link (scripts/build/build-upstream-mm.sh).
APT_PKGS=(rustc-web rust-web-src rust-web-clippy rustfmt-web cargo-web
	clang-19 lld-19 llvm-19 libclang-19-dev
	build-essential make git patch procps
	flex bison bc cpio libelf-dev libssl-dev kmod busybox-static
	rsync python3-venv xz-utils ca-certificates liburcu-dev
	gcc-s390x-linux-gnu libc6-dev-s390x-cross
	shellcheck pyflakes3
	stress-ng trinity libnuma-dev liburing-dev libcap-dev)
# QEMU 10: from bookworm-backports on bookworm (its own 7.2 does not do), from
# trixie itself on trixie. qemu-user runs the s390x build of the maple tree's
# userland tests.
QEMU_PKGS=(qemu-system-x86 qemu-user)
# The maple tree's userland tests also run big-endian: cross-built for s390x
# (gcc-s390x-linux-gnu above) against Debian's s390x liburcu (in the cache,
# from scripts/build/fetch-urcu.sh), under qemu-user.
BE_ARCH=s390x
# Debian's packages that conflict with the -web Rust ones.
RUST_CONFLICTS=(rustc cargo rustup rustc-mozilla cargo-mozilla)
# The bench report's (scripts/report/bench-report.py) Python packages, in
# $VMS_VENV, pinned to versions with wheels for Python 3.11 (bookworm) and
# 3.13 (trixie).
PY_PKGS=(numpy==2.4.6 scipy==1.17.1 pandas==2.3.3 matplotlib==3.11.2)
VNG_PKG=virtme-ng==1.42
# make bench-host: the module (kbuild against the running kernel's build
# directory, LLVM=1) and the bench program. Nothing else.
BENCH_HOST_PKGS=(rustc-web rust-web-src clang-19 lld-19 llvm-19
	build-essential make kmod procps)

installed() {
	dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q '^install ok installed'
}

# The packages of "$@" not installed for the native architecture (or all)
# (one dpkg-query for all: fast).
missing_pkgs() {
	local ok
	# dpkg-query fails for a package it has never heard of: not an error.
	ok=" $({ dpkg-query -W -f='${Package} ${Architecture} ${Status}\n' "$@" 2>/dev/null || true; } |
		awk -v native="$native_arch" '$3 == "install" && $4 == "ok" && $5 == "installed" &&
			($2 == native || $2 == "all") { printf "%s ", $1 }') "
	printf '%s\n' "$@" | while read -r p; do
		[[ "$ok" == *" $p "* ]] || echo "$p"
	done
}

# Has the machine suite $1? Ours (added before) without asking apt.
has_suite() {
	[ ! -f "/etc/apt/sources.list.d/vmashadow-$1.sources" ] || return 0
	apt_sources >/dev/null # fills the cache in this shell
	apt_sources | awk -v s="$1" '$2 == s { f = 1 } END { exit !f }'
}

# Add a suite on the machine's mirror, unless the machine has it already.
add_suite() {
	local suite=$1 file=/etc/apt/sources.list.d/vmashadow-$1.sources key
	has_suite "$suite" && return 0
	key=/usr/share/keyrings/debian-archive-keyring.gpg
	[ -f "$key" ] || key=/usr/share/keyrings/debian-archive-keyring.pgp
	[ -f "$key" ] || die "no Debian archive keyring in /usr/share/keyrings (apt-get install debian-archive-keyring)"
	cat >"$file" <<EOF
Types: deb
Architectures: $native_arch
URIs: $(debian_mirror)
Suites: $suite
Components: main
Signed-By: $key
EOF
	log "added $suite ($file)"
	# Nothing from trixie may be installed on bookworm: only .debs are
	# downloaded from it. Pin it so a stray install can never pick it.
	if [ "$suite" = trixie-backports ] && [ "$codename" = bookworm ]; then
		cat >/etc/apt/preferences.d/vmashadow-trixie <<EOF
Package: *
Pin: release n=trixie-backports
Pin-Priority: -1
EOF
		log "pinned trixie-backports to -1 (/etc/apt/preferences.d/vmashadow-trixie)"
	fi
}

# Version $1 >= $2 (dotted numbers).
version_ge() {
	[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" = "$2" ]
}

rustc_version() {
	{ "$VMS_RUSTC" --version 2>/dev/null || true; } | awk '{ print $2 }'
}

bindgen_ok() {
	"$VMS_BINDGEN" --version 2>/dev/null | grep -q "$VMS_BINDGEN_VERSION"
}

# The pins not installed in the venv; compares package metadata (no
# import): fast.
missing_py() {
	"$VMS_VENV/bin/python" - "$@" 2>/dev/null <<'EOF' || printf '%s\n' "$@"
import sys
from importlib.metadata import PackageNotFoundError, version
for pin in sys.argv[1:]:
    name, want = pin.split("==")
    try:
        if version(name) == want:
            continue
    except PackageNotFoundError:
        pass
    print(pin)
EOF
}

# Not Debian 12 or 13: check what the scripts run, by command or file, and
# print what is missing (with Debian's package for it) for a manual install.
# shellcheck disable=SC2016 # req's tests are eval'ed
other_host() {
	local missing=() r v
	req() { eval "$1" >/dev/null 2>&1 || missing+=("$2"); }
	v=$(rustc_version)
	if [ -z "$v" ] || ! version_ge "$v" "$VMS_RUSTC_MIN"; then
		missing+=("rustc >= $VMS_RUSTC_MIN as $VMS_RUSTC, found ${v:-none} (Debian: rustc-web)")
	fi
	req '[ -d "$("$VMS_RUSTC" --print sysroot)/lib/rustlib/src/rust/library" ]' \
		"the Rust standard library source for $VMS_RUSTC (Debian: rust-web-src)"
	if [ "$target" = bench-host ]; then
		for r in clang ld.lld llvm-ar llvm-nm llvm-objcopy; do
			req "command -v $r$VMS_LLVM" "$r$VMS_LLVM (Debian: clang-19 lld-19 llvm-19)"
		done
		for r in cc make depmod pgrep; do
			req "command -v $r" "$r"
		done
		other_host_report "make bench-host"
	fi
	req '[ -x /usr/bin/rustfmt ]' "/usr/bin/rustfmt (Debian: rustfmt-web)"
	req '[ -x /usr/bin/clippy-driver ]' "/usr/bin/clippy-driver (Debian: rust-web-clippy)"
	bindgen_ok || req 'command -v cargo' "cargo, to build bindgen (Debian: cargo-web)"
	for r in clang ld.lld llvm-ar llvm-nm llvm-objcopy llvm-config; do
		req "command -v $r$VMS_LLVM" "$r$VMS_LLVM (Debian: clang-19 lld-19 llvm-19)"
	done
	req '[ -e "$(llvm-config$VMS_LLVM --libdir)/libclang.so" ]' "libclang 19 (Debian: libclang-19-dev)"
	for r in cc make git patch pgrep flex bison bc cpio depmod rsync xz python3 shellcheck; do
		req "command -v $r" "$r"
	done
	req 'command -v pyflakes3 || command -v pyflakes' "pyflakes (Debian: pyflakes3)"
	req 'command -v busybox' "busybox, static (Debian: busybox-static)"
	req '[ -f /usr/include/gelf.h ]' "libelf headers (Debian: libelf-dev)"
	req '[ -f /usr/include/openssl/ssl.h ]' "OpenSSL headers (Debian: libssl-dev)"
	req '[ -f /usr/include/urcu.h ]' "liburcu headers (Debian: liburcu-dev)"
	# make stress and make test's slice of it (the guest runs the host's).
	req 'command -v stress-ng' "stress-ng (Debian: stress-ng)"
	req 'command -v trinity' "trinity (Debian: trinity)"
	req '[ -f /usr/include/numa.h ]' "libnuma headers (Debian: libnuma-dev)"
	req '[ -f /usr/include/liburing.h ]' "liburing headers (Debian: liburing-dev)"
	req '[ -f /usr/include/sys/capability.h ]' "libcap headers (Debian: libcap-dev)"
	# The maple tree's userland tests, big-endian: cross-built for s390x
	# (its liburcu is Debian's, from scripts/build/fetch-urcu.sh: on another
	# system those tests are skipped).
	req "command -v $BE_ARCH-linux-gnu-gcc" "$BE_ARCH-linux-gnu-gcc (Debian: gcc-s390x-linux-gnu)"
	req "echo '#include <stdio.h>' | $BE_ARCH-linux-gnu-gcc -E -x c - -o /dev/null" \
		"the $BE_ARCH C library for it (Debian: libc6-dev-s390x-cross)"
	req "command -v qemu-$BE_ARCH" "qemu-$BE_ARCH (Debian: qemu-user; on 12 from bookworm-backports)"
	v=$({ qemu-system-x86_64 --version 2>/dev/null || true; } | awk '/version/ { print $4; exit }')
	if [ -z "$v" ] || ! version_ge "$v" 10; then
		missing+=("qemu-system-x86_64 >= 10, found ${v:-none} (Debian 12: qemu-system-x86 from bookworm-backports)")
	fi
	bindgen_ok || missing+=("bindgen $VMS_BINDGEN_VERSION as $VMS_BINDGEN: cargo install --locked bindgen-cli@$VMS_BINDGEN_VERSION")
	[ -x "$VMS_VENV/bin/vng" ] ||
		missing+=("virtme-ng in $VMS_VENV: python3 -m venv $VMS_VENV && $VMS_VENV/bin/pip install $VNG_PKG")
	v=$(missing_py "${PY_PKGS[@]}" | tr '\n' ' ')
	[ -z "$v" ] || missing+=("in $VMS_VENV: $VMS_VENV/bin/pip install ${v% }")
	# scripts/build/fetch-kernel.sh takes the .deb from the cache when it is
	# there, and asks apt (Debian only) when it is not.
	deb=$VMS_CACHE/dl/${KVER_PKG}_${KVER_DEB_VERSION//:/%3a}_all.deb
	[ "$need_ksource" = 0 ] || [ -f "$deb" ] || [ -f "$VMS_CACHE/pristine-$KVER_DEB_VERSION/.unpacked" ] ||
		missing+=("the kernel source: Debian's $KVER_PKG $KVER_DEB_VERSION (trixie-backports) as $deb (or KSRC= your own tree with the series)")
	other_host_report "every target"
}

# other_host's verdict for $1 (what it was checked for), from its $missing.
other_host_report() {
	if [ ${#missing[@]} -eq 0 ]; then
		log "dependencies present (for $1)"
		exit 0
	fi
	echo "vmashadow: this is $(os_field PRETTY_NAME || echo 'not Debian'); scripts/build/deps.sh installs only on Debian 12 (bookworm) or 13 (trixie)." >&2
	echo "Missing here for $1 (install them by hand, then run make again):" >&2
	printf '  - %s\n' "${missing[@]}" >&2
	exit 1
}

codename=
[ "$(os_field ID)" = debian ] && command -v apt-get >/dev/null && codename=$(os_field VERSION_CODENAME)
case "$codename" in
bookworm | trixie) ;;
*) other_host ;;
esac

native_arch=$(dpkg --print-architecture)

# What is missing. Reads only: fast, and needs no root.
if [ "$target" = bench-host ]; then
	mapfile -t need_apt < <(missing_pkgs "${BENCH_HOST_PKGS[@]}")
else
	mapfile -t need_apt < <(missing_pkgs "${APT_PKGS[@]}")
fi
need_bpo=()
if [ "$target" = bench-host ]; then
	:
elif [ "$codename" = bookworm ]; then
	# QEMU 10 from bookworm-backports: bookworm's own 7.2 does not do.
	for p in "${QEMU_PKGS[@]}"; do
		v=$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null || true)
		if ! installed "$p" || ! dpkg --compare-versions "$v" ge 1:10; then
			need_bpo+=("$p")
		fi
	done
else
	mapfile -t -O "${#need_apt[@]}" need_apt < <(missing_pkgs "${QEMU_PKGS[@]}")
fi
need_suites=()
need_archline=()
suites=()
[ "$need_ksource" = 0 ] || suites+=(trixie-backports)
[ "$codename" = bookworm ] && [ "$target" = all ] && suites+=(bookworm-backports)
for s in "${suites[@]}"; do
	has_suite "$s" || need_suites+=("$s")
	# Ours, written before without the native-only line.
	f=/etc/apt/sources.list.d/vmashadow-$s.sources
	[ ! -f "$f" ] || grep -q '^Architectures:' "$f" || need_archline+=("$f")
done
need_bindgen=0 need_vng=0 need_py=() need_urcu=0
if [ "$target" = all ]; then
	bindgen_ok || need_bindgen=1
	[ -x "$VMS_VENV/bin/vng" ] || need_vng=1
	mapfile -t need_py < <(missing_py "${PY_PKGS[@]}")
	# Not a failure if missing (the s390x tests are skipped): not in $todo.
	"$VMS_TOP/scripts/build/fetch-urcu.sh" --cached >/dev/null 2>&1 || need_urcu=1
elif ! [ -x "$VMS_VENV/bin/python" ]; then
	log "optional for make bench-host: the report's venv in $VMS_VENV (make deps, where PyPI is reachable); without it the raw data is kept for make bench-report elsewhere"
fi

indent() { sed 's/^/  /'; }

# Debian's s390x liburcu into the cache (no root needed); a warning only
# if it cannot be had.
fetch_urcu() {
	[ "$need_urcu" = 1 ] || return 0
	step "$BE_ARCH liburcu (scripts/build/fetch-urcu.sh)" \
		with_progress "$VMS_CACHE/urcu-fetch.log" "$VMS_TOP/scripts/build/fetch-urcu.sh" ||
		log "warning: no $BE_ARCH liburcu ($({ grep -m1 'error:' "$VMS_CACHE/urcu-fetch.log" || tail -n 1 "$VMS_CACHE/urcu-fetch.log"; } 2>/dev/null | sed 's/^vmashadow: error: //')): the maple tree's big-endian tests will be skipped"
}

summary() {
	[ ${#need_suites[@]} -eq 0 ] || echo "apt suites: ${need_suites[*]}"
	[ ${#need_archline[@]} -eq 0 ] || echo "limit to $native_arch: ${need_archline[*]}"
	[ ${#need_apt[@]} -eq 0 ] || echo "Debian packages: ${need_apt[*]}"
	[ ${#need_bpo[@]} -eq 0 ] || echo "from bookworm-backports: ${need_bpo[*]}"
	[ "$need_bindgen" = 0 ] || echo "bindgen $VMS_BINDGEN_VERSION as $VMS_BINDGEN"
	[ "$need_vng" = 0 ] || echo "$VNG_PKG in $VMS_VENV"
	[ ${#need_py[@]} -eq 0 ] || echo "in $VMS_VENV: ${need_py[*]}"
}
todo=$(summary)

if [ "$check_only" = 1 ]; then
	[ "$need_urcu" = 0 ] ||
		echo "not yet in $VMS_CACHE (optional; make deps or the first maple tree test run fetches it): Debian's $BE_ARCH liburcu" >&2
	[ -z "$todo" ] && exit 0
	echo "missing on Debian $codename:"
	indent <<<"$todo"
	exit 1
fi
if [ -z "$todo" ]; then
	mkdir -p "$VMS_CACHE" 2>/dev/null && [ -w "$VMS_CACHE" ] && fetch_urcu
	log "dependencies present"
	exit 0
fi
[ "$(id -u)" = 0 ] || die "scripts/build/deps.sh installs as root (apt, /etc/apt, $VMS_CACHE): run 'sudo make deps'. Missing:
$(indent <<<"$todo")"

# rustc-web and cargo-web conflict with Debian's rustc, cargo and rustup:
# say so rather than let apt remove the machine's packages.
if [[ " ${need_apt[*]} " == *" rustc-web "* || " ${need_apt[*]} " == *" cargo-web "* ]]; then
	conflicts=()
	for p in "${RUST_CONFLICTS[@]}"; do
		installed "$p" && conflicts+=("$p")
	done
	[ ${#conflicts[@]} -eq 0 ] || die "Debian's ${conflicts[*]} conflict with rustc-web and cargo-web (the kernel's Rust): remove them (apt-get remove ${conflicts[*]}) and run this again"
fi

mkdir -p "$VMS_CACHE"
for s in "${need_suites[@]}"; do
	add_suite "$s"
done
for f in "${need_archline[@]}"; do
	sed -i "/^Types:/a Architectures: $native_arch" "$f"
	log "limited $f to $native_arch"
done

if [ ${#need_apt[@]} -gt 0 ] || [ ${#need_bpo[@]} -gt 0 ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt_q=(-q -y -o Dpkg::Use-Pty=0 -o APT::Color=0)
	inst=(install --no-install-recommends --no-remove)
	aptlog=$VMS_CACHE/apt.log
	step "apt-get update" with_progress "$aptlog" apt-get "${apt_q[@]}" update
	# One apt-cache call for all (seconds each on a busy host).
	have=" $({ apt-cache policy "${need_apt[@]}" "${need_bpo[@]}" 2>/dev/null || true; } |
		awk '/^[^ ].*:$/ { p = substr($0, 1, length($0) - 1) }
			$1 == "Candidate:" && $2 != "(none)" { printf "%s ", p }') "
	for p in "${need_apt[@]}" "${need_bpo[@]}"; do
		[[ "$have" == *" $p "* ]] ||
			die "Debian $codename has no package $p in the machine's apt sources"
	done
	if [ ${#need_apt[@]} -gt 0 ]; then
		step "apt-get install ${need_apt[*]}" with_progress "$aptlog" \
			apt-get "${apt_q[@]}" "${inst[@]}" "${need_apt[@]}"
	fi
	if [ ${#need_bpo[@]} -gt 0 ]; then
		step "apt-get install -t bookworm-backports ${need_bpo[*]}" \
			with_progress "$aptlog" apt-get "${apt_q[@]}" "${inst[@]}" \
			-t bookworm-backports "${need_bpo[@]}"
	fi
fi

v=$(rustc_version)
if [ -z "$v" ] || ! version_ge "$v" "$VMS_RUSTC_MIN"; then
	die "$VMS_RUSTC is Rust ${v:-(none)}; the kernel needs >= $VMS_RUSTC_MIN (Debian's rustc-web)"
fi

if [ "$need_bindgen" = 1 ]; then
	# Debian's cargo and rustc, never a rustup toolchain that may be on PATH.
	step "cargo install bindgen-cli@$VMS_BINDGEN_VERSION" \
		with_progress "$VMS_CACHE/bindgen-install.log" \
		env CARGO_HOME="$VMS_CARGO_HOME" RUSTC="$VMS_RUSTC" /usr/bin/cargo \
		install --locked "bindgen-cli@$VMS_BINDGEN_VERSION"
	bindgen_ok || die "bindgen $VMS_BINDGEN_VERSION is not at $VMS_BINDGEN after cargo install"
fi

pip_q=(--disable-pip-version-check --progress-bar off)
if [ "$need_vng" = 1 ]; then
	rm -rf "$VMS_VENV"
	step "virtme-ng venv" with_progress "$VMS_CACHE/venv-install.log" \
		sh -c "python3 -m venv '$VMS_VENV' &&
		'$VMS_VENV/bin/pip' install ${pip_q[*]} '$VNG_PKG'"
fi

if [ "$need_vng" = 1 ] || [ ${#need_py[@]} -gt 0 ]; then
	# The bench report: statistics (scipy), grouping (pandas), plots.
	step "bench report packages (${PY_PKGS[*]})" \
		with_progress "$VMS_CACHE/venv-install.log" \
		"$VMS_VENV/bin/pip" install "${pip_q[@]}" "${PY_PKGS[@]}"
fi

fetch_urcu
log "dependencies present"
