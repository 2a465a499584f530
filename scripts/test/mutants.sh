#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Mutation proofs of the speculative fault path (docs/spec.md, "Mutation
# proofs"): for each mutant of scripts/test/mutants.py, the debug kernel with
# that one check of patch 0011, 0014, 0016 or 0017 removed, and the selftests that must
# fail without it. A mutant is killed when those tests fail and every test
# of its binary in the other modes passes (pervma and shadow are the
# control); other spec tests may fail too (a check removed can corrupt a
# process's memory well beyond the race it exists for), and are named.
# One TAP line per mutant; exits non-zero if one survives.
#
#   scripts/test/mutants.sh [NAME...]  (make mutants [MUTANTS="range sequence"])
#
# Per mutant: the cached debug build is copied to a scratch directory
# (about 1 GB, under $VMASHADOW_CACHE/mutants), the mutated source file is
# bind-mounted over the cached source's in a private mount namespace
# (unshare -m: nothing outside it sees the mutant), the kernel is rebuilt
# (one object and the link), and `TESTS=BINARY SLICE=0 CRASH=0 make test`
# runs against it (make test-kcsan for kcsan-control, against the KCSAN
# kernel). About 10 minutes per mutant under TCG. Needs root; a kernel not
# built yet is built first.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

usage() { die "usage: $0 [NAME...] (known: $(python3 "$VMS_TOP/scripts/test/mutants.py" list | cut -d' ' -f1 | xargs))"; }
mapfile -t known < <(python3 "$VMS_TOP/scripts/test/mutants.py" list)
names=("$@")
[ ${#names[@]} -gt 0 ] || mapfile -t names < <(printf '%s\n' "${known[@]}" | cut -d' ' -f1)
for n in "${names[@]}"; do
	[[ "$n" =~ ^[a-z-]+$ ]] && printf '%s\n' "${known[@]}" | grep -q "^$n " || usage
done
[ "$(id -u)" = 0 ] || die "mutants.sh needs root (a private mount namespace)"
command -v unshare >/dev/null || die "unshare not found (util-linux)"

# The cached build of flavour $1 and its source tree ($bdir, $src), built
# first if it is not there (the KCSAN kernel of kcsan-control, ~15 min).
kernel_of() {
	bdir=$(build_dir "$1")
	[ -f "$bdir/arch/x86/boot/bzImage" ] || "$VMS_TOP/scripts/build-kernel.sh" "$1" >/dev/null ||
		die "the $1 kernel did not build"
	[ -f "$bdir/arch/x86/boot/bzImage" ] || die "no $1 kernel in $bdir"
	src=$(sed -n 's|^include \(.*\)/linux/Makefile$|\1|p' "$bdir/Makefile")
	[ -d "$src/linux" ] || die "cannot find the source of $bdir (its Makefile names '$src')"
}
scratch_top=$VMS_CACHE/mutants
mkdir -p "$scratch_top"

num=0
survived=0
for n in "${names[@]}"; do
	read -r _ file target flavour < <(printf '%s\n' "${known[@]}" | grep "^$n ")
	kernel_of "$flavour"
	binary=${target%%:*}
	tests=$(tr , '\n' <<<"${target#*:}" | sort -u | xargs)
	test=${tests%% *}	# the first, whose assertion the TAP line quotes
	num=$((num + 1))
	m=$scratch_top/$n
	rm -rf "$m"
	mkdir -p "$m"
	if [ "$binary" = test-kcsan ]; then
		log "mutant $n: $file with a data race; make test-kcsan must report it in $tests"
		run="make test-kcsan"
	else
		log "mutant $n: $file without one check; $tests must fail"
		run="TESTS=$binary SLICE=0 CRASH=0 make test"
	fi
	python3 "$VMS_TOP/scripts/test/mutants.py" apply "$n" "$src/linux" "$m/$(basename "$file")"
	cp -a "$bdir" "$m/build"
	cat >"$m/inner.sh" <<-IN
		set -e
		mount --bind "$m/$(basename "$file")" "$src/linux/$file"
		mount --bind "$m/build" "$bdir"
		make -C "$bdir" -j"$(nproc)" $(kernel_make_flags) bzImage modules_prepare >"$m/build.log" 2>&1
		cd "$VMS_TOP" && $run >"$m/test.log" 2>&1 || true
	IN
	if ! unshare -m bash "$m/inner.sh"; then
		echo "not ok $num - mutant $n: the mutant kernel did not build or boot ($m/build.log, $m/test.log)"
		survived=$((survived + 1))
		continue
	fi
	res=$(sed -n 's/.*results in \(.*\)$/\1/p' "$m/test.log" | tail -n 1)
	cp -a "$res" "$m/results" 2>/dev/null || true
	rm -rf "$m/build"
	if [ "$binary" = test-kcsan ]; then
		# Killed when the run fails its series check with a report whose
		# racing access is in the named function.
		if grep -q '^not ok 3 ' "$m/results/run-tap.log" 2>/dev/null &&
			sed -n "/^In the series' or the module's code/,/^In core code/p" \
				"$m/results/kcsan.txt" 2>/dev/null | grep -qw "$test"; then
			echo "ok $num - mutant $n killed: make test-kcsan reports the race in $test ($(head -n 1 "$m/results/kcsan.txt"))"
		else
			echo "not ok $num - mutant $n survived: make test-kcsan reported no race in $test ($m)"
			survived=$((survived + 1))
		fi
		continue
	fi
	con=$m/results/console.log
	failed=$(grep -aoE '^# not ok [0-9]+ [a-z_.]+' "$con" 2>/dev/null | awk '{ print $5 }' | sort -u | xargs || true)
	passed=$(grep -acE '^# ok [0-9]+ [a-z_.]+' "$con" 2>/dev/null || true)
	# The test's first failed assertion, from its RUN line to its FAIL line.
	why=$(awk -v t="$test" '
		index($0, "RUN           " t " ") { on = 1; next }
		on && /FAIL/ { exit }
		on && /Expected/ { sub(/^# # [^:]*:[0-9]+:[a-z_]+:/, ""); print; exit }' "$con" 2>/dev/null | cut -c1-160 || true)
	missing=$(comm -23 <(tr ' ' '\n' <<<"$tests") <(tr ' ' '\n' <<<"$failed") | xargs)
	# FIXTURE.VARIANT.TEST: a failure in a variant other than spec is the control's.
	control=$(tr ' ' '\n' <<<"$failed" | awk -F. 'NF && $2 != "spec"' | xargs)
	also=$(comm -13 <(tr ' ' '\n' <<<"$tests") <(tr ' ' '\n' <<<"$failed") | xargs)
	if [ -n "$failed" ] && [ -z "$missing" ] && [ -z "$control" ]; then
		echo "ok $num - mutant $n killed: $tests fail${also:+ (and $also)}, $passed tests pass${why:+ ($why)}"
	else
		echo "not ok $num - mutant $n survived: failing tests '${failed:-none}', expected $tests, in spec only ($m)"
		survived=$((survived + 1))
	fi
done
echo "1..$num"
[ "$survived" = 0 ] || die "$survived of $num mutants survived"
