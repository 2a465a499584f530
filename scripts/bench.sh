#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: deps + perf kernel + module + bench program + one guest boot
# running every scenario in every mode, interleaved, then the host-side report.
# Results in results/bench/latest/ (raw.log, runs.csv, summary.csv,
# report.txt, bench.png, dmesg.log, console.log).
#
# Environment: R (measured repetitions, default 12; one warm-up is added),
# SECONDS_PER_RUN (default 1), ONLY (scenarios to run, default all of:
# contended uncontended kernel-faults latency scale churn), CPUS, MEMORY,
# TIMEOUT, KVM (see scripts/vm.sh).
# The defaults take about 15 minutes on a quiet 2-core TCG host: 13 x 32 runs.
# More repetitions beat longer runs there: the noise comes from the host
# between runs (see the README), and the paired ratios need pairs.

. "$(dirname "$0")/lib.sh"

[ $# -eq 0 ] || die "usage: $0 (options come from the environment)"
reps=${R:-12}
secs=${SECONDS_PER_RUN:-1}
[[ "$reps" =~ ^[1-9][0-9]*$ ]] && [ "$reps" -le 100 ] || die "R must be 1..100 (got '$reps')"
[[ "$secs" =~ ^[0-9]+(\.[0-9]+)?$ ]] && awk -v s="$secs" 'BEGIN { exit !(s >= 0.01 && s <= 3600) }' ||
	die "SECONDS_PER_RUN must be a number of seconds, 0.01..3600 (got '$secs')"
all_scenarios="contended uncontended kernel-faults latency scale churn"
only=${ONLY:-$all_scenarios}
for s in $only; do
	[[ " $all_scenarios " == *" $s "* ]] ||
		die "ONLY: unknown scenario '$s' (known: $all_scenarios)"
done
only=$(echo $only | tr ' ' ,)
[ -n "$only" ] || die "ONLY names no scenario (known: $all_scenarios)"

flavour=perf
res=$VMS_TOP/results/bench/$(date +%Y%m%d-%H%M%S)
latest=$VMS_TOP/results/bench/latest

step "dependencies" "$VMS_TOP/scripts/deps.sh"
kdir=$(step "kernel ($flavour)" "$VMS_TOP/scripts/build-kernel.sh" "$flavour")
ko=$(step "module" "$VMS_TOP/scripts/build-module.sh" "$flavour")
benchdir=$VMS_TOP/build/bench
mkdir -p "$benchdir"
step "bench program" cc -O2 -Wall -Wextra -Werror -pthread \
	-o "$benchdir/vmashadow_bench" "$VMS_TOP/selftests/bench/vmashadow_bench.c" -lm

mkdir -p "$res"
ln -sfn "$(basename "$res")" "$latest"
{
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "config: $flavour ($(basename "$kdir")): tinyconfig + kernel/config/common.config + $flavour.config"
} >"$res/meta.txt"

# Under TCG the vCPUs are host threads: anything else busy on the host (a
# second guest, a build) slows the runs it overlaps, in every mode alike.
# Every 2 s: host time, CPUs busy outside this guest's QEMU, CPUs it used.
host_load() {
	local out=$1 tag=$2 hz prev_t= prev_busy= prev_ours= t busy ours pid
	hz=$(getconf CLK_TCK)
	while :; do
		t=$(date +%s.%N)
		# user nice system idle iowait irq softirq: busy = all but idle, iowait
		busy=$(awk '/^cpu /{print $2+$3+$4+$7+$8; exit}' /proc/stat)
		ours=0
		for pid in $(pgrep -f qemu-system || true); do
			grep -qs -- "$tag" "/proc/$pid/cmdline" || continue
			ours=$((ours + $(awk '{print $14+$15}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
		done
		if [ -n "$prev_t" ]; then
			awk -v t="$t" -v pt="$prev_t" -v b="$busy" -v pb="$prev_busy" \
				-v o="$ours" -v po="$prev_ours" -v hz="$hz" 'BEGIN {
				dt = (t - pt) * hz
				# No interval, or the guest QEMU just exited (its CPU
				# time is gone from the sum): no sample.
				if (dt <= 0 || o < po) exit
				other = (b - pb - (o - po)) / dt
				printf "%.1f %.2f %.2f\n", t, other < 0 ? 0 : other, (o - po) / dt
			}' >>"$out"
		fi
		prev_t=$t prev_busy=$busy prev_ours=$ours
		sleep 2
	done
}
host_load "$res/host-load.log" "$(basename "$res")" &
sampler=$!
trap 'kill "$sampler" 2>/dev/null || true' EXIT

t0=$(date +%s)
"$VMS_TOP/scripts/vm.sh" --flavour "$flavour" --rwdir "$res" \
	--console "$res/console.log" --timeout "${TIMEOUT:-5400}" \
	--exec "$VMS_TOP/scripts/guest-bench.sh $res $ko $benchdir/vmashadow_bench $reps $secs $only" ||
	true # the guest's own status is guest-rc
log "guest run done in $(($(date +%s) - t0))s"
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
echo "host cpus: $(nproc)" >>"$res/meta.txt"
echo "accel: $(cat "$VMS_CACHE/last-accel" 2>/dev/null | tr a-z A-Z)" >>"$res/meta.txt"

fail=0
guest_verdict "$res" || fail=1
"$VMS_VENV/bin/python" "$VMS_TOP/scripts/bench-report.py" "$res" || fail=1
log "results in $res"
exit "$fail"
