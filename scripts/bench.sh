#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: deps + perf kernel + module + bench program + one guest boot
# running every scenario in every mode, interleaved, then the host-side report.
# Results in results/bench/latest/ (raw.log, runs.csv, summary.csv,
# report.txt, bench.png, dmesg.log, console.log).
#
# Environment: R (measured repetitions, default 5; one warm-up is added),
# SECONDS_PER_RUN (default 1), CPUS, MEMORY, TIMEOUT, KVM (see scripts/vm.sh).

. "$(dirname "$0")/lib.sh"

[ $# -eq 0 ] || die "usage: $0 (options come from the environment)"
reps=${R:-5}
secs=${SECONDS_PER_RUN:-1}
[[ "$reps" =~ ^[1-9][0-9]*$ ]] && [ "$reps" -le 100 ] || die "R must be 1..100 (got '$reps')"
[[ "$secs" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "SECONDS_PER_RUN must be a number of seconds (got '$secs')"

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

t0=$(date +%s)
"$VMS_TOP/scripts/vm.sh" --flavour "$flavour" --rwdir "$res" \
	--console "$res/console.log" --timeout "${TIMEOUT:-5400}" \
	--exec "$VMS_TOP/scripts/guest-bench.sh $res $ko $benchdir/vmashadow_bench $reps $secs" ||
	true # the guest's own status is guest-rc
log "guest run done in $(($(date +%s) - t0))s"
echo "accel: $(cat "$VMS_CACHE/last-accel" 2>/dev/null | tr a-z A-Z)" >>"$res/meta.txt"

fail=0
guest_verdict "$res" || fail=1
"$VMS_VENV/bin/python" "$VMS_TOP/scripts/bench-report.py" "$res" || fail=1
log "results in $res"
exit "$fail"
