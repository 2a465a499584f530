#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Install what the build and the VM runner need, skipping what is present.
# Idempotent. Debian 12 (bookworm) only; elsewhere it lists what is missing.
#
#   scripts/deps.sh           install what is missing
#   scripts/deps.sh --check   only report, exit 1 if something is missing

. "$(dirname "$0")/lib.sh"

check_only=0
case "${1:-}" in
"") ;;
--check) check_only=1 ;;
*) die "usage: $0 [--check]" ;;
esac

# Debian packages from bookworm (main) and what comes from bookworm-backports.
APT_PKGS=(rustc-web rust-web-src clang-19 lld-19 llvm-19 libclang-19-dev
	flex bison bc cpio libelf-dev libssl-dev kmod busybox-static
	rust-web-clippy rustfmt-web rsync python3-venv xz-utils ca-certificates
	liburcu-dev gcc-s390x-linux-gnu libc6-dev-s390x-cross)
BPO_PKGS=(qemu-system-x86 qemu-user)
# The maple tree's userspace tests also run big-endian: cross-built for s390x
# (gcc-s390x-linux-gnu above) against Debian's s390x liburcu, under qemu-user.
FOREIGN_ARCH=s390x
FOREIGN_PKGS=("liburcu-dev:$FOREIGN_ARCH")
# The bench report's (scripts/bench-report.py) Python packages, in $VMS_VENV,
# pinned to versions with wheels for bookworm's Python 3.11.
PY_PKGS=(numpy==2.4.6 scipy==1.17.1 pandas==2.3.3 matplotlib==3.11.2)

missing_pkgs() {
	local p
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
			grep -q '^install ok installed' || echo "$p"
	done
}

# The machine's own Debian mirror, read from its apt sources (never hard-coded).
debian_mirror() {
	local uri
	uri=$(awk '
		/^URIs:/ { u = $2 }
		/^Suites:/ { if ($0 ~ /bookworm( |$)/ && u !~ /security/) { print u; exit } }
	' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
	if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
		uri=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' \
			/etc/apt/sources.list)
	fi
	[ -n "$uri" ] || die "cannot find the Debian mirror in /etc/apt/sources*"
	echo "$uri"
}

# Add a suite (bookworm-backports, trixie-backports) on the same mirror, for
# the native architecture only: nothing foreign is installed from it, and its
# foreign indices need not be downloaded (nor be in sync on the mirror).
add_suite() {
	local suite=$1 file=/etc/apt/sources.list.d/vmashadow-$1.sources
	if [ -f "$file" ]; then
		grep -q '^Architectures:' "$file" && return 1
		sed -i "/^Types:/a Architectures: $(dpkg --print-architecture)" "$file"
		return 0
	fi
	cat >"$file" <<EOF
Types: deb
Architectures: $(dpkg --print-architecture)
URIs: $(debian_mirror)
Suites: $suite
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
	# Nothing from trixie may be installed on bookworm: only .debs are
	# downloaded from it. Pin it so a stray install can never pick it.
	if [ "$suite" = trixie-backports ]; then
		cat >/etc/apt/preferences.d/vmashadow-trixie <<EOF
Package: *
Pin: release n=trixie-backports
Pin-Priority: -1
EOF
	fi
	return 0
}

if [ ! -f /etc/debian_version ] || ! command -v apt-get >/dev/null; then
	echo "vmashadow: this host is not Debian; install by hand:" >&2
	echo "  Debian bookworm packages (or equivalents): ${APT_PKGS[*]}" >&2
	echo "  from bookworm-backports: ${BPO_PKGS[*]} (QEMU >= 10)" >&2
	echo "  for $FOREIGN_ARCH (dpkg --add-architecture): ${FOREIGN_PKGS[*]}" >&2
	echo "  cargo install --locked bindgen-cli@$VMS_BINDGEN_VERSION" >&2
	echo "  virtme-ng from PyPI in $VMS_VENV" >&2
	exit 1
fi

mkdir -p "$VMS_CACHE"
need_apt=$(missing_pkgs "${APT_PKGS[@]}")
need_bpo=$(missing_pkgs "${BPO_PKGS[@]}")
need_foreign=$(missing_pkgs "${FOREIGN_PKGS[@]}")
need_arch=0
dpkg --print-foreign-architectures | grep -qx "$FOREIGN_ARCH" || need_arch=1
need_bindgen=0
"$VMS_BINDGEN" --version 2>/dev/null | grep -q "$VMS_BINDGEN_VERSION" || need_bindgen=1
need_vng=0
[ -x "$VMS_VENV/bin/vng" ] || need_vng=1
# The pins not installed; compares package metadata (no import): fast.
need_py=$("$VMS_VENV/bin/python" - "${PY_PKGS[@]}" 2>/dev/null <<'EOF' || echo "${PY_PKGS[*]}"
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
)

if [ "$check_only" = 1 ]; then
	rc=0
	[ -n "$need_apt$need_bpo$need_foreign" ] &&
		{ echo "missing packages:" ${need_apt:+"$need_apt"} ${need_bpo:+"$need_bpo"} ${need_foreign:+"$need_foreign"}; rc=1; }
	[ "$need_arch" = 1 ] && { echo "dpkg architecture $FOREIGN_ARCH not added"; rc=1; }
	[ "$need_bindgen" = 1 ] && { echo "missing bindgen $VMS_BINDGEN_VERSION"; rc=1; }
	[ "$need_vng" = 1 ] && { echo "missing virtme-ng in $VMS_VENV"; rc=1; }
	[ -n "$need_py" ] && { echo "missing in $VMS_VENV: $need_py"; rc=1; }
	exit "$rc"
fi

[ "$(id -u)" = 0 ] || [ -z "$need_apt$need_bpo$need_foreign" ] ||
	die "missing packages ($need_apt $need_bpo $need_foreign): run as root"

updated=0
if add_suite bookworm-backports; then updated=1; fi
if add_suite trixie-backports; then updated=1; fi
if [ "$need_arch" = 1 ]; then
	dpkg --add-architecture "$FOREIGN_ARCH"
	updated=1
fi

if [ -n "$need_apt$need_bpo$need_foreign" ]; then
	if [ "$updated" = 1 ] || [ ! -d /var/lib/apt/lists ] ||
		[ -z "$(ls /var/lib/apt/lists/*backports* 2>/dev/null)" ] ||
		[ -z "$(ls /var/lib/apt/lists/*_binary-"${FOREIGN_ARCH}"_Packages* 2>/dev/null)" ]; then
		step "apt-get update" apt-get update -qq
	fi
	export DEBIAN_FRONTEND=noninteractive
	if [ -n "$need_apt" ]; then
		# shellcheck disable=SC2086
		step "apt-get install ${need_apt//$'\n'/ }" \
			apt-get install -y -qq --no-install-recommends $need_apt
	fi
	if [ -n "$need_bpo" ]; then
		# shellcheck disable=SC2086
		step "apt-get install -t bookworm-backports ${need_bpo//$'\n'/ }" \
			apt-get install -y -qq --no-install-recommends \
			-t bookworm-backports $need_bpo
	fi
	if [ -n "$need_foreign" ]; then
		# shellcheck disable=SC2086
		step "apt-get install ${need_foreign//$'\n'/ }" \
			apt-get install -y -qq --no-install-recommends $need_foreign
	fi
fi

if [ "$need_bindgen" = 1 ]; then
	command -v cargo >/dev/null || export PATH=$VMS_CARGO_HOME/bin:$PATH
	step "cargo install bindgen-cli@$VMS_BINDGEN_VERSION" \
		with_progress "$VMS_CACHE/bindgen-install.log" \
		cargo install --locked --quiet "bindgen-cli@$VMS_BINDGEN_VERSION"
fi

if [ "$need_vng" = 1 ]; then
	mkdir -p "$VMS_CACHE"
	rm -rf "$VMS_VENV"
	step "virtme-ng venv" sh -c "python3 -m venv '$VMS_VENV' &&
		'$VMS_VENV/bin/pip' install -q 'virtme-ng==1.42'"
fi

if [ "$need_vng" = 1 ] || [ -n "$need_py" ]; then
	# The bench report: statistics (scipy), grouping (pandas), plots.
	step "bench report packages (${PY_PKGS[*]})" \
		"$VMS_VENV/bin/pip" install -q "${PY_PKGS[@]}"
fi

log "dependencies present"
