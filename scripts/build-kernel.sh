#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the custom kernel of one flavour into the cache and print its build
# directory.
#
#   scripts/build-kernel.sh perf|debug
#
# The build directory is keyed by a hash of every input (kernel version,
# patches, config fragments, toolchain versions); a finished build is reused.

. "$(dirname "$0")/lib.sh"

flavour=${1:-}
case "$flavour" in
perf | debug) ;;
*) die "usage: $0 perf|debug" ;;
esac
[ $# -eq 1 ] || die "usage: $0 perf|debug"

src=$("$VMS_TOP/scripts/fetch-kernel.sh")
out=$(build_dir "$flavour")
cache_lock "$(basename "$out")"
frags=("$VMS_TOP/kernel/config/common.config" "$VMS_TOP/kernel/config/$flavour.config")
# shellcheck disable=SC2046
set -- $(kernel_make_flags)
kmake() { make -s -C "$src" O="$out" "$@"; }

if [ -f "$out/.vmashadow-built" ]; then
	log "reusing $flavour kernel $out"
	echo "$out"
	exit 0
fi

mkdir -p "$out"
log "configuring $flavour kernel in $out"
kmake "$@" tinyconfig >/dev/null
(cd "$out" && "$src/scripts/kconfig/merge_config.sh" -m -O "$out" \
	"$out/.config" "${frags[@]}" >"$out/merge_config.log")
kmake "$@" olddefconfig >/dev/null

# merge_config drops options whose dependencies are off without failing:
# check every line of the fragments against the result.
"$VMS_TOP/scripts/check-config.sh" "$out/.config" "${frags[@]}"

kmake "$@" rustavailable >/dev/null ||
	die "Rust is not available to the kernel build (scripts/deps.sh?)"

jobs=$(($(nproc) + 1))
step "building $flavour kernel (-j$jobs)" \
	with_progress "$out/build.log" make -C "$src" O="$out" "$@" -j"$jobs" \
	bzImage modules headers
touch "$out/.vmashadow-built"
# Old builds of this flavour are only cache; keep the newest two.
# shellcheck disable=SC2012 # ls -t sorts by age; the names are hashes
ls -dt "$VMS_CACHE/build/$flavour"-*/ | tail -n +3 | xargs -r rm -rf
echo "$out"
