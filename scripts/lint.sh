#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# rustfmt (the kernel's .rustfmt.toml) and clippy (the kernel's CLIPPY=1
# build, warnings as errors) on the module.
#
#   scripts/lint.sh         check
#   scripts/lint.sh --fix   reformat in place

. "$(dirname "$0")/lib.sh"

fix=0
case "${1:-}" in
"") ;;
--fix) fix=1 ;;
*) die "usage: $0 [--fix]" ;;
esac

src=$("$VMS_TOP/scripts/fetch-kernel.sh")
# Debian's rustfmt-web matches the kernel's rustc; never rustup's.
rustfmt=/usr/bin/rustfmt
fmt_args=(--config-path "$src/.rustfmt.toml" --edition 2021)
if [ "$fix" = 1 ]; then
	"$rustfmt" "${fmt_args[@]}" "$VMS_TOP"/rust/*.rs
	exit 0
fi
"$rustfmt" "${fmt_args[@]}" --check "$VMS_TOP"/rust/*.rs ||
	die "rustfmt: the diff above needs 'make fmt'"
log "rustfmt clean"

kdir=$("$VMS_TOP/scripts/build-kernel.sh" debug)
mo=$VMS_TOP/build/lint
rm -rf "$mo"
mkdir -p "$mo"
# shellcheck disable=SC2046
make -s -C "$kdir" M="$VMS_TOP" MO="$mo" $(kernel_make_flags) \
	CLIPPY=1 CLIPPY_DRIVER=/usr/bin/clippy-driver KRUSTFLAGS="-Dwarnings" \
	modules 2>&1 | tee "$mo/clippy.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || die "clippy build failed"
if grep -qE '^(warning|error)' "$mo/clippy.log"; then
	die "clippy reported warnings"
fi
log "clippy clean"
