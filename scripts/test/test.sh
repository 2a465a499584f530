#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make test: deps + debug kernel + module + selftests + VM run + splat check.
# Results in results/test/latest/ (tap.log, dmesg.log, console.log,
# summary.txt whose last line is "N passed, N failed, N skipped").
# Exit status is non-zero on any failure or splat.
#
# Environment: CPUS, MEMORY, TIMEOUT, KVM (see scripts/vm.sh), TESTS="a b"
# to run only some selftests, CRASH=0 to skip the crash boot, SLICE=0 to
# skip the boot of the upstream suites' slice (results in upstream/, the
# whole of them is make stress); all checked by scripts/check-vars.sh
# first.

. "$(dirname "$0")/../lib.sh"

[ $# -eq 0 ] || die "usage: $0 (options come from the environment)"
# Every variable is checked before anything is built (scripts/check-vars.sh).
"$VMS_TOP/scripts/check-vars.sh"
only_tests=${TESTS:-} # space- or comma-separated

flavour=debug
res=$VMS_TOP/results/test/$(date +%Y%m%d-%H%M%S)
latest=$VMS_TOP/results/test/latest

# $ko, vmashadow.ko, and $crash_ko, the crash test's (for the crash boot).
build_for_vm "$flavour"
tests=$(step "selftests" "$VMS_TOP/scripts/build/build-selftests.sh" "$flavour")
slice=${SLICE:-1}
[ "$slice" = 0 ] ||
	mm=$(step "mm selftests (upstream)" "$VMS_TOP/scripts/build/build-upstream-mm.sh" "$flavour")

mkdir -p "$res"
ln -sfn "$(basename "$res")" "$latest"

# Host-side tests first: they are cheap and the VM result depends on them.
"$VMS_TOP/scripts/test/test-check-splats.sh" >"$res/host-tap.log" 2>&1 ||
	log "splat checker self-test FAILED (see $res/host-tap.log)"
"$VMS_TOP/scripts/test/test-check-vars.sh" >"$res/vars-tap.log" 2>&1 ||
	log "make variables' checks FAILED (see $res/vars-tap.log)"
step "tools/testing/vma" "$VMS_TOP/scripts/test/test-vma-userland.sh" >"$res/vma-tap.log" ||
	log "tools/testing/vma FAILED (see $res/vma-tap.log)"
step "maple tree fix (userland)" "$VMS_TOP/scripts/test/test-maple-userland.sh" >"$res/maple-tap.log" ||
	log "maple tree regression test FAILED (see $res/maple-tap.log)"

# The kernel's maple tree test module, on a whole run only (TESTS unset),
# copied beside the results: virtme-ng hides the cache under /var/cache.
# The coherence bench's instrument, proven on programs with known answers,
# in a bare boot of this kernel (tools/coherence/README.md).
if [ -z "$only_tests" ]; then
	step "coherence plugin checks" "$VMS_TOP/tools/coherence/check.sh" \
		--kernel "$kdir/arch/x86/boot/bzImage" --map "$kdir/System.map" \
		--out "$res/coherence" >"$res/coherence-tap.log" ||
		log "coherence plugin checks FAILED (see $res/coherence-tap.log)"
fi

maple_opt=
if [ -z "$only_tests" ]; then
	cp "$kdir/lib/test_maple_tree.ko" "$res/"
	maple_opt="--maple-ko $res/test_maple_tree.ko"
fi

# shellcheck disable=SC2086
# vng's own exit status is not the guest's (it is 255 when the script's
# virtio-serial port is missing): the guest writes guest-rc.
t0=$(date +%s)
# The main boot took 27 min on a host loaded by two other guests (8 min on
# an idle one): an hour unless TIMEOUT says otherwise.
"$VMS_TOP/scripts/vm.sh" --flavour "$flavour" --timeout "${TIMEOUT:-3600}" \
	--rwdir "$res" --console "$res/console.log" \
	--exec "$VMS_TOP/scripts/guest/guest-run.sh $maple_opt $res $ko $tests ${only_tests//,/ }" || true
log "guest run done in $(($(date +%s) - t0))s"

# Suites nobody here wrote, a bounded slice of make stress, in a boot of
# its own: a few of the kernel's mm selftests in stock and shadow, four
# stress-ng stressors and trinity in shadow, two race tests under failslab
# and under fail_page_alloc, kmemleak around it.
if [ "$slice" = 1 ]; then
	up=$res/upstream
	mkdir -p "$up"
	t0=$(date +%s)
	"$VMS_TOP/scripts/vm.sh" --flavour "$flavour" --timeout 1800 \
		--rwdir "$up" --console "$up/console.log" \
		--exec "$VMS_TOP/scripts/guest/guest-stress.sh --results $up --ko $ko --selftests $tests --mm $mm --plan slice --modes stock,shadow,spec --parts mm,stress-ng,trinity,failinject" \
		>"$up/vm.log" 2>&1 || true
	log "upstream suites' boot done in $(($(date +%s) - t0))s"
	touch "$up/stress-tap.log"
	{
		[ -f "$up/guest-rc" ] && echo "ok 1 upstream suites' boot completed" ||
			echo "not ok 1 upstream suites' boot completed"
		klog=$up/dmesg.log
		[ -s "$klog" ] || klog=$up/console.log
		if "$VMS_TOP/scripts/test/check-splats.sh" "$klog" >"$up/splats.txt"; then
			echo "ok 2 upstream suites' kernel log free of splats"
		else
			echo "not ok 2 upstream suites' kernel log free of splats"
			log "kernel splats in the upstream suites' boot:"
			cat "$up/splats.txt" >&2
		fi
	} >"$up/run-tap.log"
	python3 "$VMS_TOP/scripts/report/stress-summary.py" "$res" >"$up/summary.txt" 2>&1 || true
fi

# The crash test oopses the kernel on purpose: a boot of its own, whose log
# may hold exactly those oopses and nothing else.
if [ "${CRASH:-1}" = 1 ]; then
	t0=$(date +%s)
	"$VMS_TOP/scripts/vm.sh" --flavour "$flavour" --timeout 900 \
		--rwdir "$res" --console "$res/crash-console.log" \
		--exec "$VMS_TOP/scripts/guest/guest-crash.sh $res $ko $crash_ko $tests" >"$res/crash-vm.log" 2>&1 || true
	log "crash boot done in $(($(date +%s) - t0))s"
	crashlog=$res/crash-dmesg.log
	[ -s "$crashlog" ] || crashlog=$res/crash-console.log
	oopses=$(grep -c 'Oops: ' "$crashlog" 2>/dev/null || true)
	{
		[ -f "$res/crash-alive" ] && echo "ok 1 crash boot: guest alive after the oopses" ||
			echo "not ok 1 crash boot: guest alive after the oopses"
		# One oops per mode, each from the trigger's no-fixup read: the
		# crash fixture has a variant per mode of scripts/modes
		# (VMS_FIXTURE_VARIANT_MODES, which make lint checks).
		grep -q '^VMS_FIXTURE_VARIANT_MODES(crash);' "$VMS_TOP/selftests/crash_test.c" &&
			nmodes=$(vms_modes | wc -l) || nmodes=unknown
		[ "$oopses" = "$nmodes" ] && echo "ok 2 crash boot: one oops per mode ($oopses)" ||
			echo "not ok 2 crash boot: one oops per mode (got ${oopses:-0}, expected $nmodes)"
		if "$VMS_TOP/scripts/test/check-splats.sh" \
			--allow 'BUG: unable to handle page fault for address' \
			--allow 'Oops: ' "$crashlog" >"$res/crash-splats.txt"; then
			echo "ok 3 crash boot: no splat but the expected oopses"
		else
			echo "not ok 3 crash boot: no splat but the expected oopses"
		fi
	} >"$res/crash-run-tap.log"
	touch "$res/crash-tap.log"
fi

# The whole guest log is part of the result: any splat fails the run.
fail=0
guest_verdict "$res" || fail=1

# The run itself as test cases, so the summary line shows a dead guest or a
# splat even when every test that did run passed.
{
	[ -f "$res/guest-rc" ] && [ "$(cat "$res/guest-rc")" = 0 ] &&
		echo "ok 1 guest run completed" || echo "not ok 1 guest run completed"
	[ -s "$res/splats.txt" ] && echo "not ok 2 guest kernel log free of splats" ||
		echo "ok 2 guest kernel log free of splats"
} >"$res/run-tap.log"
touch "$res/tap.log" "$res/kunit.log"
taps=("$res/host-tap.log" "$res/vars-tap.log" "$res/vma-tap.log" "$res/maple-tap.log" "$res/run-tap.log" "$res/kunit.log" "$res/tap.log")
if [ -z "$only_tests" ]; then
	touch "$res/coherence-tap.log"
	taps+=("$res/coherence-tap.log")
fi
if [ -n "$maple_opt" ]; then
	[ -s "$res/maple-kmod-tap.log" ] ||
		echo "not ok 1 lib/test_maple_tree.ko: the guest never ran it" >"$res/maple-kmod-tap.log"
	taps+=("$res/maple-kmod-tap.log")
fi
[ -f "$res/crash-run-tap.log" ] && taps+=("$res/crash-run-tap.log" "$res/crash-tap.log")
[ "$slice" = 0 ] || taps+=("$res/upstream/run-tap.log" "$res/upstream/stress-tap.log")
{
	echo "vmashadow make test, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "kernel: $flavour $(basename "$(build_dir "$flavour")"), accel: $(sed -n 's/^vm.sh accelerator: //p' "$res/console.log")"
	[ -s "$res/splats.txt" ] && { echo "splats:"; cat "$res/splats.txt"; }
	python3 "$VMS_TOP/scripts/report/summarize.py" "${taps[@]}" || true
} >"$res/summary.txt"
python3 "$VMS_TOP/scripts/report/summarize.py" "${taps[@]}" >/dev/null || fail=1

grep -E '^(FAILED|SKIPPED)' "$res/summary.txt" >&2 || true
log "results in $res"
tail -n 1 "$res/summary.txt"
exit "$fail"
