#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: deps + perf kernel + module + bench program + one guest boot
# running every scenario in every mode, interleaved, then the host-side
# report; then a second boot of one vCPU for the path bench (instructions
# per fault, under QEMU -icount, or perf with a PMU under KVM).
# Results in results/bench/latest/ (raw.log, runs.csv, summary.csv,
# report.txt, bench.png, dmesg.log, console.log; path-raw.log, path.png,
# path/ with the second boot's logs; meta.txt).
#
# Environment: R (measured repetitions, default 8; one warm-up is added),
# SECONDS_PER_RUN (default 0.5), ONLY (scenarios to run, default all of:
# contended uncontended kernel-faults latency scale churn page_fault1
# page_fault2 page_fault3 pft path), THREADS (faulting thread counts for
# contended, kernel-faults, latency (the largest), page_fault*, pft; e.g.
# "1 2 4"; default vCPUs-1, vCPUs, 2*vCPUs, and vCPUs for page_fault* and
# pft), PATH_R (path repetitions, default 3), PATH_VMAS (the path bench's
# other-VMA counts, default "1 256 4096"; 65536 works too), CPUS, MEMORY,
# TIMEOUT, KVM (see scripts/vm.sh), EXTRA_CONFIG, KSRC (build-kernel.sh).
# The plan (the runs, their ETA: scripts/bench/bench-plan.sh) is printed before
# anything is built; a plan that cannot finish inside TIMEOUT is refused,
# and without TIMEOUT each boot gets twice its ETA plus 5 minutes.

. "$(dirname "$0")/../lib.sh"

[ $# -eq 0 ] || die "usage: $0 (options come from the environment)"
# Time: the size of a run (configurations, runs, processes) and its ETA
# are the plan's, printed before anything is built
# (scripts/bench/bench-plan.sh, which also holds the per-run and per-boot
# costs it uses). Repetitions are worth more than seconds here (the noise
# is the host's, between runs, and the paired ratios need pairs), so the
# default halved the seconds of a run (0.5) before it cut repetitions (8).
# Every variable is checked before anything is built (scripts/check-vars.sh).
"$VMS_TOP/scripts/check-vars.sh"
. "$VMS_TOP/scripts/bench/bench-plan.sh"
bench_options
# The plan and its ETA, before anything is built. TIMEOUT, each boot's
# limit, must leave room for its part; unset, it is derived from the plan.
bench_plan "${CPUS:-2}" "$VMS_BENCH_BOOT_S"
if [ -n "${TIMEOUT:-}" ]; then
	[ "$plan_main_s" -le "$TIMEOUT" ] && [ "$plan_path_s" -le "$TIMEOUT" ] ||
		die "the plan cannot finish inside TIMEOUT=${TIMEOUT}s (ETA of the main boot $(fmt_secs "$plan_main_s"), of the path boot $(fmt_secs "$plan_path_s")): ask for less (R, ONLY, THREADS, SECONDS_PER_RUN, PATH_R, PATH_VMAS) or a larger TIMEOUT, or leave TIMEOUT unset (twice the ETA plus 5 minutes)"
	main_timeout=$TIMEOUT path_timeout=$TIMEOUT
else
	main_timeout=$((2 * plan_main_s + 300)) path_timeout=$((2 * plan_path_s + 300))
	limits=()
	[ -z "$main_only" ] || limits+=("main ${main_timeout}s")
	[ "$run_path" = 0 ] || limits+=("path ${path_timeout}s")
	log "plan: a boot is killed after twice its ETA plus 5 minutes (${limits[0]}${limits[1]:+, ${limits[1]}}; TIMEOUT= sets it)"
fi
flavour=perf
res=$VMS_TOP/results/bench/$(date +%Y%m%d-%H%M%S)
latest=$VMS_TOP/results/bench/latest

# The benches load vmashadow.ko ($ko), never the crash test's module.
build_for_vm "$flavour"
benchdir=$VMS_TOP/build/bench
build_bench "$benchdir"

mkdir -p "$res"
ln -sfn "$(basename "$res")" "$latest"
{
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "config: $flavour ($(basename "$kdir")): tinyconfig + kernel/config/common.config + $flavour.config"
	echo "git: $(git -C "$VMS_TOP" describe --always --dirty 2>/dev/null || echo unknown)"
	echo "host cpu model: $(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
	echo "host memory: $(awk '/^MemTotal:/ { printf "%d kB (%.1f GiB)", $2, $2 / 1048576 }' /proc/meminfo)"
	[ -z "${EXTRA_CONFIG:-}" ] || echo "extra config: $(config_fragments "$flavour" | tail -n +3 | xargs)"
	[ -z "${KSRC:-}" ] || echo "ksrc: $(ksrc_dir)"
	echo "plan eta: main ${plan_main_s}s, path ${plan_path_s}s (timeouts ${main_timeout}s, ${path_timeout}s)"
} >"$res/meta.txt"

# Under TCG the vCPUs are host threads: anything else busy on the host (a
# second guest, a build) slows the runs it overlaps, in every mode alike.
# Every 2 s: host time, CPUs busy outside this guest's QEMU, CPUs it used.
host_load() {
	local out=$1 tag=$2 hz prev_t='' prev_busy='' prev_ours='' t busy ours pid
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

fail=0
if [ -n "$main_only" ]; then
	t0=$(date +%s)
	"$VMS_TOP/scripts/vm.sh" --flavour "$flavour" --rwdir "$res" \
		--console "$res/console.log" --timeout "$main_timeout" \
		--exec "$VMS_TOP/scripts/guest/guest-bench.sh $res $ko $benchdir/vmashadow_bench $reps $secs $main_only $threads" ||
		true # the guest's own status is guest-rc
	log "guest run done in $(($(date +%s) - t0))s"
	# The guest writes the accelerator it sees ("accel:"); this is the host's.
	echo "host accel: $(sed -n 's/^vm.sh accelerator: //p' "$res/console.log" | tr "[:lower:]" "[:upper:]")" >>"$res/meta.txt"
	guest_verdict "$res" || fail=1
fi

# The path bench: its own boot, one vCPU, nothing else running in it.
# Without KVM, QEMU counts instructions (-icount shift=0: the guest's clock
# advances 1 ns per instruction); with KVM the guest's PMU does (perf).
if [ "$run_path" = 1 ]; then
	mkdir -p "$res/path"
	accel=$("$VMS_TOP/scripts/vm.sh" --flavour "$flavour" --print-accel)
	if [ "$accel" = kvm ]; then
		how=pmu icount=()
	else
		how=icount icount=(--icount)
	fi
	t0=$(date +%s)
	"$VMS_TOP/scripts/vm.sh" --flavour "$flavour" --cpus 1 "${icount[@]}" \
		--rwdir "$res" --console "$res/path/console.log" \
		--timeout "$path_timeout" \
		--exec "$VMS_TOP/scripts/guest/guest-path.sh $res $ko $benchdir/vmashadow_bench $path_reps $path_vmas $how $path_admit" ||
		true # the guest's own status is path/guest-rc
	log "path guest run done in $(($(date +%s) - t0))s"
	guest_verdict "$res/path" || fail=1
fi
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
echo "host cpus: $(nproc)" >>"$res/meta.txt"

# The report reads raw.log and path-raw.log, whichever there is.
"$VMS_VENV/bin/python" "$VMS_TOP/scripts/report/bench-report.py" "$res" || fail=1
log "results in $res"
exit "$fail"
