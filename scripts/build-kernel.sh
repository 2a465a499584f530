#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the custom kernel of one flavour into the cache and print its build
# directory.
#
#   scripts/build-kernel.sh [--config-only] perf|debug|kcsan
#
# The build directory is keyed by a hash of every input (kernel version,
# patches, config fragments, toolchain versions); a finished build is reused.
# The fragments are kernel/config/common.config and FLAVOUR.config, then
# EXTRA_CONFIG's (the user's, e.g. drivers for a real machine), merged in
# that order onto tinyconfig; every line of each must take (a later
# fragment may override an earlier one's line: scripts/check-config.sh).
#
# KSRC=/path/to/linux builds the user's own tree (the series applied) instead
# of the cached Debian source: in one build directory per tree and flavour
# (ksrc-FLAVOUR-KEY), never copied, configured again when a fragment
# changes, and rebuilt incrementally (make's own dependency tracking) when
# any file of the tree is newer than the last build; with nothing newer,
# make is not even run.
#
# --config-only: configure and check the fragments (tinyconfig, merge,
# olddefconfig, check-config.sh) and stop before building; prints the build
# directory, whose .config is the result.

. "$(dirname "$0")/lib.sh"

usage() { die "usage: $0 [--config-only] perf|debug|kcsan"; }
config_only=0
if [ "${1:-}" = --config-only ]; then
	config_only=1
	shift
fi
flavour=${1:-}
case "$flavour" in
perf | debug | kcsan) ;;
*) usage ;;
esac
[ $# -eq 1 ] || usage

src=$("$VMS_TOP/scripts/build/fetch-kernel.sh")
frag_list=$(config_fragments "$flavour") || die "EXTRA_CONFIG='$EXTRA_CONFIG': see above"
mapfile -t frags <<<"$frag_list"
out=$(build_dir "$flavour")
cache_lock "$(basename "$out")"
# shellcheck disable=SC2046
set -- $(kernel_make_flags)
kmake() { make -s -C "$src" O="$out" "$@"; }

configure() {
	mkdir -p "$out"
	log "configuring $flavour kernel in $out${KSRC:+ (KSRC=$src)}"
	[ ${#frags[@]} -le 2 ] || log "  EXTRA_CONFIG: ${frags[*]:2}"
	kmake "$@" tinyconfig >/dev/null
	(cd "$out" && "$src/scripts/kconfig/merge_config.sh" -m -O "$out" \
		"$out/.config" "${frags[@]}" >"$out/merge_config.log")
	kmake "$@" olddefconfig >/dev/null
}

# merge_config drops options whose dependencies are off without failing:
# check every line of the fragments against the result.
check() {
	"$VMS_TOP/scripts/check-config.sh" "$out/.config" "${frags[@]}" ||
		die "the $flavour kernel's config lacks options its fragments ask for (above; see $out/merge_config.log)"
}

build() {
	kmake "$@" rustavailable >/dev/null ||
		die "Rust is not available to the kernel build (scripts/build/deps.sh?)"
	local jobs=$(($(nproc) + 1))
	step "building $flavour kernel (-j$jobs)" \
		with_progress "$out/build.log" make -C "$src" O="$out" "$@" -j"$jobs" \
		bzImage modules headers
}

if [ -n "${KSRC:-}" ]; then
	# The fragments' contents: configure again when they change.
	inputs=$( { echo "$flavour"; cat "${frags[@]}"; } | sha256sum | cut -c1-16)
	stale=
	if [ ! -f "$out/.config" ] || [ "$(cat "$out/.vmashadow-config" 2>/dev/null)" != "$inputs" ]; then
		configure "$@"
		echo "$inputs" >"$out/.vmashadow-config"
		stale="the config was made anew"
	else
		# The tree's Kconfig may have changed: its new options take
		# their defaults, as the build itself would do.
		kmake "$@" olddefconfig >/dev/null
	fi
	check
	if [ "$config_only" = 1 ]; then
		log "configured $flavour kernel of $src in $out (--config-only: not built)"
		echo "$out"
		exit 0
	fi
	# Up to date: built, the config unchanged, no file of the tree (but
	# .git/) newer than the build's start.
	if [ -z "$stale" ] && [ -f "$out/.vmashadow-built" ]; then
		newer=$(find "$src" -path "$src/.git" -prune -o -type f \
			-newer "$out/.vmashadow-built" -print -quit)
		if [ -z "$newer" ]; then
			log "KSRC $flavour kernel $out is up to date (no file of $src newer than its last build)"
			echo "$out"
			exit 0
		fi
		stale="${newer#"$src"/} (at least) is newer than the last build"
	fi
	log "building KSRC $flavour kernel incrementally: ${stale:-never built}"
	# Files changed during the build are newer than this stamp.
	touch "$out/.vmashadow-build-start"
	build "$@"
	mv "$out/.vmashadow-build-start" "$out/.vmashadow-built"
	echo "$out"
	exit 0
fi

if [ -f "$out/.vmashadow-built" ]; then
	if [ "$config_only" = 1 ]; then
		check
		log "$flavour kernel $out is built; its config checked"
	else
		log "reusing $flavour kernel $out"
	fi
	echo "$out"
	exit 0
fi

configure "$@"
check
if [ "$config_only" = 1 ]; then
	log "configured $flavour kernel in $out (--config-only: not built)"
	echo "$out"
	exit 0
fi
build "$@"
touch "$out/.vmashadow-built"
# Old builds of this flavour are only cache; keep the newest two (of the
# project's own, and apart from them of EXTRA_CONFIG's; a KSRC build is one
# per tree and never pruned).
# shellcheck disable=SC2012 # ls -t sorts by age; the names are hashes
if [ -n "${EXTRA_CONFIG:-}" ]; then
	ls -dt "$VMS_CACHE/build/extra-$flavour"-*/ | tail -n +3 | xargs -r rm -rf
else
	ls -dt "$VMS_CACHE/build/$flavour"-*/ | tail -n +3 | xargs -r rm -rf
fi
echo "$out"
