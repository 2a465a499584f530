#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench-coherence: what a fault costs in instructions, atomics, stores
# and cache-line transfers, per mode, scenario and vCPU count, counted by
# the coherence plugin (tools/coherence/) in QEMU TCG guests of the perf
# kernel. One boot per vCPU count (COH_CPUS), each running
# scripts/guest/guest-coherence.sh: one plugin window per bench run, every
# scenario in every mode, COH_R repetitions plus a warm-up. Then
# scripts/report/coherence-report.py divides each window's counts by the
# kernel's own fault count over it (/proc/vmstat pgfault) and writes
# report.txt, windows.csv (one row per window), summary.csv and symbols.csv.
# Results in results/coherence/<stamp>/ (latest: results/coherence/latest),
# one directory cpusN/ per boot with the plugin's reports and the logs.
#
# Environment (checked by scripts/check-vars.sh):
#   COH_CPUS       vCPU counts, one boot each (default "2 4 8"; 1..32)
#   COH_R          measured repetitions (default 3; one warm-up is added)
#   COH_SECONDS    seconds of one bench run (default 0.3; plus its warm-up)
#   COH_MODES      default none and every mode of scripts/modes (none: the
#                  module not loaded)
#   COH_SCENARIOS  default "pft page_fault1 contended kernel-faults"
#   COH_ACCEL      TCG threading: multi (MTTCG, a host thread per vCPU; the
#                  default) or single (round-robin, one host thread)
#   FLAVOUR        kernel (default perf; debug works, slower, and lockdep
#                  and KASAN add their own atomics and transfers)
#   MEMORY, TIMEOUT (per boot; default from the plan)
#
#   scripts/bench/coherence-bench.sh [--dry-run]
#
# --dry-run prints the plan and the commands and exits.

. "$(dirname "$0")/../lib.sh"
. "$VMS_TOP/scripts/bench/bench-plan.sh" # fmt_secs

dry=0
case "${1:-}" in
'') ;;
--dry-run) dry=1 ;;
*) die "usage: $0 [--dry-run] (options come from the environment: COH_CPUS COH_R COH_SECONDS COH_MODES COH_SCENARIOS COH_ACCEL FLAVOUR MEMORY TIMEOUT)" ;;
esac
[ $# -le 1 ] || die "usage: $0 [--dry-run]"
"$VMS_TOP/scripts/check-vars.sh"

cpus_list=${COH_CPUS:-2 4 8}
reps=${COH_R:-3}
secs=${COH_SECONDS:-0.3}
modes=${COH_MODES:-none $(vms_modes | xargs)}
scenarios=${COH_SCENARIOS:-pft page_fault1 contended kernel-faults}
accel=${COH_ACCEL:-multi}
flavour=${FLAVOUR:-perf}
memory=${MEMORY:-2G}
read -ra cpus_a <<<"${cpus_list//,/ }"
read -ra modes_a <<<"${modes//,/ }"
read -ra scen_a <<<"${scenarios//,/ }"
modes_csv=$(IFS=,; echo "${modes_a[*]}")
scen_csv=$(IFS=,; echo "${scen_a[*]}")

# The plan: windows per boot and an ETA from measured costs (perf kernel,
# the plugin loaded, MTTCG on the 2-core host with another 2-vCPU guest
# running, 2026-12-06: the 2-vCPU boot took 364 s for 80 windows of 0.3 s,
# i.e. ~40 s of boot and ~3.7 s a window beyond COH_SECONDS; more vCPUs
# share the two host cores, assumed here to cost in proportion).
windows=$(((reps + 1) * ${#modes_a[@]} * ${#scen_a[@]}))
eta=0
for c in "${cpus_a[@]}"; do
	eta=$(awk -v e="$eta" -v w="$windows" -v s="$secs" -v c="$c" \
		'BEGIN { printf "%d", e + 40 + w * (s + 3.7) * (c > 2 ? c / 2 : 1) + 0.5 }')
done
log "plan: ${#cpus_a[@]} boots (${cpus_a[*]} vCPUs, TCG thread=$accel, $flavour kernel), each $windows windows: $((reps + 1)) repetitions (1 warm-up) x ${#modes_a[@]} modes (${modes_a[*]}) x ${#scen_a[@]} scenarios (${scen_a[*]}), ${secs}s a run: ETA $(fmt_secs "$eta")"
timeout=${TIMEOUT:-$((2 * eta + 300))}

if [ "$dry" = 1 ]; then
	log "dry run: nothing built or booted"
	exit 0
fi

build_for_vm "$flavour"
[ -f "$kdir/System.map" ] || die "$kdir/System.map missing: the plugin needs it to name kernel symbols"
benchdir=$VMS_TOP/build/bench
build_bench "$benchdir"
# The plugin and cohctl (check.sh --build-only prints the plugin's path;
# the guest programs go to $COHERENCE_CACHE/guest).
plugin=$(step "coherence plugin" "$VMS_TOP/tools/coherence/check.sh" --build-only | tail -n 1)
[ -f "$plugin" ] || die "the coherence plugin was not built ($plugin)"
cohcache=${COHERENCE_CACHE:-$VMS_CACHE/coherence}
cohctl=$cohcache/guest/cohctl
[ -x "$cohctl" ] || die "cohctl was not built ($cohctl)"

res=$VMS_TOP/results/coherence/$(date +%Y%m%d-%H%M%S)
mkdir -p "$res"
ln -sfn "$(basename "$res")" "$VMS_TOP/results/coherence/latest"
{
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "git: $(git -C "$VMS_TOP" describe --always --dirty 2>/dev/null || echo unknown)"
	echo "kernel: $flavour ($(basename "$kdir")), System.map $kdir/System.map"
	echo "host cpu model: $(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
	echo "host cpus: $(nproc)"
	echo "qemu: $(qemu-system-x86_64 --version | head -n 1)"
	echo "tcg: thread=$accel"
	echo "plugin: $plugin"
	echo "vcpus: ${cpus_a[*]}"
	echo "modes: ${modes_a[*]}"
	echo "scenarios: ${scen_a[*]}"
	echo "reps: $reps (plus one warm-up)"
	echo "seconds: $secs"
	echo "normaliser: /proc/vmstat pgfault delta around each window"
	echo "plan eta: ${eta}s (timeout per boot ${timeout}s)"
} >"$res/meta.txt"

fail=0
for c in "${cpus_a[@]}"; do
	d=$res/cpus$c
	mkdir -p "$d"
	# lines=22: 4M lines of the line table (64 MiB), so that no access
	# goes untracked (the report checks meta,untracked_accesses); top=400
	# symbols a window, so that the top 10 over the repetitions are exact.
	popts="-accel tcg,thread=$accel -plugin $plugin,report=$d/report.csv,each=on,map=$kdir/System.map,lines=22,top=400"
	t0=$(date +%s)
	log "boot: $c vCPUs ($windows windows)"
	nice "$VMS_TOP/scripts/vm.sh" --flavour "$flavour" --cpus "$c" --memory "$memory" \
		--append nokaslr --qemu-opts "$popts" --rwdir "$d" \
		--rodir "$(dirname "$cohctl")" \
		--console "$d/console.log" --timeout "$timeout" \
		--exec "$VMS_TOP/scripts/guest/guest-coherence.sh $d $ko $benchdir/vmashadow_bench $cohctl $reps $secs $modes_csv $scen_csv" \
		>/dev/null || true # the guest's own status is guest-rc
	echo "boot cpus$c: $(($(date +%s) - t0))s" >>"$res/meta.txt"
	log "boot: $c vCPUs done in $(($(date +%s) - t0))s"
	guest_verdict "$d" || fail=1
	grep -q 'nokaslr' "$d/meta.txt" 2>/dev/null ||
		{ log "cpus$c: the guest was not booted with nokaslr: the plugin's symbols would be wrong"; fail=1; }
done

python3 "$VMS_TOP/scripts/report/coherence-report.py" "$res" || fail=1
log "results in $res"
exit "$fail"
