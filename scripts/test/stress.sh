#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make stress: suites nobody here wrote, against the debug kernel with the
# module loaded, in stock, shadow and pervma (and mmap from DURATION=2h
# on), for as long as asked. Two boots (scripts/guest/guest-stress.sh in each):
#
#   failinject  fault injection (failslab, then fail_page_alloc) scoped to
#               the project's race suite, shadow (stock where it fails)
#   suites      stress-ng's vm-class stressors with --verify, the kernel's
#               own mm selftests (scripts/test/upstream-mm.list), each stressor
#               and test in every mode one after the other, then trinity
#               (vm group, as nobody) in shadow
#
# DURATION (default 30m) is the guest time of the whole run. The
# injection boot takes what it takes (a few minutes); the suites boot gets
# the rest (at least half of DURATION): stress-ng until 35% of it, the mm
# selftests until 85% (a stressor or test not started by then is listed
# as not reached), trinity the last 15% as an operation count. Each boot
# checks kmemleak (no new leak after the runs and the rmmod) and its
# kernel log for splats (scripts/test/check-splats.sh). Then make
# test-kcsan (scripts/test/test-kcsan.sh), outside DURATION.
#
# Results in results/stress/latest/: summary.txt (a tool x mode table of
# passed/failed/skipped, the comparison with stock, every failure and
# skip with its reason; last line "N passed, N failed, N skipped"), and
# per boot BOOT/stress-tap.log, stress.tsv, logs/, dmesg.log,
# console.log, splats.txt, kmemleak.txt. Exit status non-zero on any
# failure or splat.
#
# Environment: DURATION, CPUS, MEMORY (default 4G), KVM (see scripts/vm.sh); checked by
# scripts/check-vars.sh first.

. "$(dirname "$0")/../lib.sh"

[ $# -eq 0 ] || die "usage: $0 (options come from the environment: DURATION=30m CPUS MEMORY KVM)"
"$VMS_TOP/scripts/check-vars.sh"
total=$(duration_seconds "${DURATION:-30m}")

# mremap_test maps 2 GB regions (its "2GB mremap" cases): more than a 2G
# guest has left.
export MEMORY=${MEMORY:-4G}
flavour=debug
res=$VMS_TOP/results/stress/$(date +%Y%m%d-%H%M%S)
latest=$VMS_TOP/results/stress/latest

# The suites run with vmashadow.ko ($ko).
build_for_vm "$flavour"
tests=$(step "selftests" "$VMS_TOP/scripts/build/build-selftests.sh" "$flavour")
mm=$(step "mm selftests (upstream)" "$VMS_TOP/scripts/build/build-upstream-mm.sh" "$flavour")

mkdir -p "$res"
ln -sfn "$(basename "$res")" "$latest"
t_all=$(date +%s)

# boot NAME TIMEOUT ARGS...: one guest running guest-stress.sh ARGS.
boot() {
	local name=$1 tmo=$2 dir=$res/$1 t0
	shift 2
	mkdir -p "$dir"
	t0=$(date +%s)
	log "boot $name (timeout ${tmo}s): $*"
	"$VMS_TOP/scripts/vm.sh" --flavour "$flavour" --timeout "$tmo" \
		--rwdir "$dir" --console "$dir/console.log" \
		--exec "$VMS_TOP/scripts/guest/guest-stress.sh --results $dir --ko $ko --selftests $tests --mm $mm $*" \
		>"$dir/vm.log" 2>&1 || true
	log "boot $name done in $(($(date +%s) - t0))s"
	guest_verdict "$dir" || true
}

# Fault injection first: what it takes comes off the suites boot.
boot failinject 3600 --plan full --parts failinject --modes stock,shadow,spec
left=$((total - ($(date +%s) - t_all)))
min=$((total / 2))
if [ "$left" -lt "$min" ]; then
	log "fault injection took $(($(date +%s) - t_all))s of DURATION=${DURATION:-30m}: the suites boot still gets half, ${min}s"
	left=$min
fi
# A test started just before its deadline may run its whole timeout (up
# to 30 min for cow), trinity up to three times its share: the guest's
# timeout allows for that.
# mmap mode (every fault under mmap_lock, the 2008 world) where time
# allows: from DURATION=2h on.
modes=stock,shadow,spec,pervma
[ "$total" -lt 7200 ] || modes=$modes,mmap
boot suites $((left * 2 + 3600)) --plan full --seconds "$left" \
	--parts stress-ng,mm,trinity --modes "$modes"

fail=0
python3 "$VMS_TOP/scripts/report/stress-summary.py" "$res" >"$res/summary.txt" || fail=1
cat "$res/summary.txt"
log "make stress: $(($(date +%s) - t_all))s of guest time (DURATION=${DURATION:-30m}), results in $res"
# Then the race tests under KCSAN, a kernel of their own (make test-kcsan),
# outside DURATION.
"$VMS_TOP/scripts/test/test-kcsan.sh" || fail=1
exit "$fail"
