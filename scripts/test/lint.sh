#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The scripts: shellcheck on every bash script (settings in .shellcheckrc),
# pyflakes on every Python script, the make variables' checks
# (scripts/test/test-check-vars.sh), and the lists kept equal by hand
# (scripts/test/check-modes.sh, tested by test-check-modes.sh there);
# seconds, no kernel needed. Then the module: rustfmt (the kernel's
# .rustfmt.toml) and clippy (the kernel's CLIPPY=1 build, warnings as
# errors), which need the debug kernel.
#
#   scripts/test/lint.sh            check all
#   scripts/test/lint.sh --scripts  check the scripts only
#   scripts/test/lint.sh --fix      reformat the module in place

. "$(dirname "$0")/../lib.sh"

mode=all
case "${1:-}" in
"") ;;
--scripts) mode=scripts ;;
--fix) mode=fix ;;
*) die "usage: $0 [--scripts|--fix]" ;;
esac
[ $# -le 1 ] || die "usage: $0 [--scripts|--fix]"

# The clone's files (tracked, and new ones not ignored) whose name or first
# line says bash or sh ($1 = sh), or python ($1 = py).
files_of() {
	local f first
	(cd "$VMS_TOP" && { git ls-files -co --exclude-standard 2>/dev/null ||
		find . -type f -not -path './.git/*' -printf '%P\n'; }) |
		while IFS= read -r f; do
			[ -f "$VMS_TOP/$f" ] || continue
			case "$1:$f" in
			sh:*.sh | py:*.py) echo "$f"; continue ;;
			esac
			IFS= read -r first <"$VMS_TOP/$f" 2>/dev/null || continue
			case "$1:$first" in
			sh:'#!'*bash* | sh:'#!'*/sh | sh:'#!'*' sh' | py:'#!'*python*) echo "$f" ;;
			esac
		done
}

lint_scripts() {
	local sh py pyflakes t0=$SECONDS
	command -v shellcheck >/dev/null || die "shellcheck missing (make deps)"
	pyflakes=$(command -v pyflakes3 || command -v pyflakes) ||
		die "pyflakes missing (make deps)"
	mapfile -t sh < <(files_of sh)
	mapfile -t py < <(files_of py)
	# Two at a time: seconds rather than tens of seconds.
	(cd "$VMS_TOP" && printf '%s\0' "${sh[@]}" |
		xargs -0 -n 3 -P "$(nproc)" shellcheck) ||
		die "shellcheck: fix the findings above (or disable one with a reason)"
	log "shellcheck clean (${#sh[@]} scripts)"
	(cd "$VMS_TOP" && "$pyflakes" "${py[@]}") || die "pyflakes: fix the findings above"
	log "pyflakes clean (${#py[@]} scripts)"
	tap test-check-vars.sh check-vars "make variables' checks"
	log "make variables' checks pass ($(grep -c '^ok ' "$VMS_TOP/build/check-vars-tap.log") cases) in $((SECONDS - t0))s"
	"$VMS_TOP/scripts/test/check-modes.sh" >/dev/null || die "the modes' lists, or NR_COUNTERS, disagree (scripts/test/check-modes.sh)"
	tap test-check-modes.sh check-modes "check-modes.sh's tests"
	log "one list of modes: rust/mode.rs and selftests/vmashadow.h match scripts/modes; NR_COUNTERS is one number"
	python3 "$VMS_TOP/scripts/test/kcsan-reports.py" --self-test >"$VMS_TOP/build/kcsan-reports-tap.log" 2>&1 || {
		grep -v '^ok ' "$VMS_TOP/build/kcsan-reports-tap.log" >&2
		die "kcsan-reports.py's self-test failed (build/kcsan-reports-tap.log)"
	}
	log "make test-kcsan's report classifier: its self-test passes"
}

# tap SCRIPT NAME WHAT: the TAP tests of scripts/test/SCRIPT, their output
# in build/NAME-tap.log; if one fails, shows what failed and dies.
tap() {
	"$VMS_TOP/scripts/test/$1" >"$VMS_TOP/build/$2-tap.log" 2>&1 || {
		grep -v '^ok ' "$VMS_TOP/build/$2-tap.log" >&2
		die "$3 failed (build/$2-tap.log)"
	}
}

if [ "$mode" != fix ]; then
	mkdir -p "$VMS_TOP/build"
	lint_scripts
	[ "$mode" = all ] || exit 0
fi

src=$("$VMS_TOP/scripts/build/fetch-kernel.sh")
# Debian's rustfmt-web matches the kernel's rustc; never rustup's.
rustfmt=/usr/bin/rustfmt
fmt_args=(--config-path "$src/.rustfmt.toml" --edition 2021)
if [ "$mode" = fix ]; then
	"$rustfmt" "${fmt_args[@]}" "$VMS_TOP"/rust/*.rs
	exit 0
fi
"$rustfmt" "${fmt_args[@]}" --check "$VMS_TOP"/rust/*.rs ||
	die "rustfmt: the diff above needs 'make fmt'"
log "rustfmt clean"

# The series as upstream would take it. git am, as docs/real-hardware.md
# says to apply it, on Debian's source (the series' base), must give the
# tree the project builds with patch -p1.
pristine=$VMS_CACHE/pristine-$KVER_DEB_VERSION/linux
if ! "$VMS_TOP/scripts/test/test-git-am.sh" "$pristine" "$src" >"$VMS_TOP/build/git-am.tap" 2>&1; then
	cat "$VMS_TOP/build/git-am.tap" >&2
	die "the series does not apply with git am as documented (build/git-am.tap)"
fi
log "series: git am as documented gives the tree the project builds ($(grep -c '^ok' "$VMS_TOP/build/git-am.tap") checks)"
# Reported, never fatal: does the series apply to the newest 7.x source the
# archive has (a rebase due before the pinned version leaves it)?
"$VMS_TOP/scripts/test/check-newest-source.sh"
# checkpatch.pl --strict, from the kernel tree: any report fails, CHECKs
# too. A commit id in a Fixes: tag cannot be looked up (Debian's source has
# no git history), so that one test is off.
cp_log=$VMS_TOP/build/checkpatch.log
: >"$cp_log"
for p in $(series_patches); do
	(cd "$src" && perl scripts/checkpatch.pl --strict --terse --no-summary \
		--ignore UNKNOWN_COMMIT_ID "$p") >>"$cp_log" 2>&1 || true # judged below
done
if grep -qE ': (ERROR|WARNING|CHECK):' "$cp_log"; then
	sed -n 's|^.*/\(00[0-9]*\)-[^:]*\(:[0-9]*: [A-Z]*:.*\)$|checkpatch: \1\2|p' "$cp_log" >&2
	die "checkpatch --strict: reports in the series (build/checkpatch.log)"
fi
log "checkpatch --strict: nothing to report in $(series_patches | wc -l) patches"

kdir=$("$VMS_TOP/scripts/build-kernel.sh" debug)
mo=$VMS_TOP/build/lint
rm -rf "$mo"
mkdir -p "$mo"
set +e
# shellcheck disable=SC2046
make -s -C "$kdir" M="$VMS_TOP" MO="$mo" $(kernel_make_flags) \
	CLIPPY=1 CLIPPY_DRIVER=/usr/bin/clippy-driver KRUSTFLAGS="-Dwarnings" \
	modules 2>&1 | tee "$mo/clippy.log"
rc=${PIPESTATUS[0]}
set -e
[ "$rc" -eq 0 ] || die "clippy build failed"
if grep -qE '^(warning|error)' "$mo/clippy.log"; then
	die "clippy reported warnings"
fi
log "clippy clean"

# The coherence plugin (tools/coherence/plugin), with Debian's cargo and
# rustc as its check.sh builds it: rustfmt, clippy (warnings are errors),
# its unit tests.
plugin=$VMS_TOP/tools/coherence/plugin
ctarget=${COHERENCE_CACHE:-$VMS_CACHE/coherence}/target
# /usr/bin first: cargo runs its subcommands (cargo-clippy, cargo-fmt) from PATH.
cargo=(env PATH="/usr/bin:$PATH" RUSTC=/usr/bin/rustc RUSTFMT=/usr/bin/rustfmt CARGO_TARGET_DIR="$ctarget" /usr/bin/cargo)
(cd "$plugin" && "${cargo[@]}" fmt --check) ||
	die "rustfmt: tools/coherence/plugin needs 'cargo fmt'"
(cd "$plugin" && "${cargo[@]}" clippy --locked --release --all-targets --quiet -- -D warnings) ||
	die "clippy: tools/coherence/plugin has warnings"
(cd "$plugin" && "${cargo[@]}" test --locked --release --quiet >"$mo/coherence-test.log" 2>&1) || {
	cat "$mo/coherence-test.log" >&2
	die "tools/coherence/plugin: unit tests failed"
}
log "coherence plugin: rustfmt, clippy and unit tests clean"
