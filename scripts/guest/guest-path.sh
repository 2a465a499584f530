#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs *inside* the guest (scripts/vm.sh --exec) for `make bench`: the path
# bench, in its own boot of one vCPU, under QEMU -icount shift=0 (so the
# guest's clock counts instructions) or with a working PMU (perf counts
# them). What one fault costs, in instructions, in each mode:
# none (the module not loaded), then every mode of scripts/modes; for each
# repetition and each --vmas count (the process holds that many other
# faulted one-page VMAs) one process runs the cases user, kernel, newvma,
# churn, cow, zerowp, reuse, file and (if the kernel has fail_fault_spec)
# fallback, another process the young case (no settling:
# what its region's first 50 ms cost while the index learns it) and another the
# split case (a hot region split in two: the new half's first 50 ms). The
# modes rotate with the repetition, none always first: it runs before the
# module is loaded, which each repetition does afresh,
# with its default settings. The other VMAs are faulted once each, so at the
# default admission (admit_ms=10) they stay cold, out of the lookup's tree,
# while the process waits out the admission window (bench --settle: twice
# admit_ms plus 10 ms, which under -icount costs no host time) before user
# and kernel measure, so that their region is hot, indexed: a few hot VMAs
# among many cold ones, as in a long-running process.
# Everything goes to RESULTS/path-raw.log, in raw.log's grammar:
#
#   RUN rep=R mode=M scenario=path variant=CASE-vmasK threads=1 t=EPOCH
#   RESULT scenario=path variant=CASE-vmasK threads=1 metric=insn_per_fault ...
#   FAIL rep=R mode=M scenario=path variant=CASE-vmasK threads=1 rc=RC
#   STATS mode=M <line of the module's stats file>   after each process
#
# and "counter: icount|perf|clock" (and the rest of this boot's setup,
# "path ..." lines) to RESULTS/meta.txt.
#
# ADMIT_MS (default: the module's) loads it with admit_ms=ADMIT_MS,
# min_age_ms=ADMIT_MS and index_cap=131072 (no eviction even with 65536 other VMAs): with 0 every
# VMA is indexed at its first miss, so the lookup's tree is as big as
# mm_mt, and newvma and churn pay the index's fill and forget every time.
#
#   guest-path.sh RESULTS KO BENCH REPS VMAS[,VMAS...] icount|pmu [ADMIT_MS|default]

set -uo pipefail

[ $# -eq 6 ] || [ $# -eq 7 ] ||
	{ echo "usage: $0 RESULTS KO BENCH REPS VMAS icount|pmu [ADMIT_MS|default]" >&2; exit 2; }
results=$1 ko=$2 bench=$3 reps=$4 vmas_list=${5//,/ } how=$6 admit_ms=${7:-default}
. "$(dirname "$0")/guest-accel.sh"
dbg=${VMASHADOW_DEBUGFS:-/sys/kernel/debug/vmashadow}	# tests may point it elsewhere
mapfile -t modes < <(vms_modes)
case "$admit_ms" in
default) module_params="mode=0" ;;
*[!0-9]* | '') echo "$0: bad ADMIT_MS '$admit_ms'" >&2; exit 2 ;;
*) module_params="mode=0 admit_ms=$admit_ms min_age_ms=$admit_ms index_cap=131072" ;;
esac
cases=(user kernel newvma churn cow zerowp reuse file)
log=$results/path-raw.log
rc=0
out=$(mktemp)
map_count_was=

finish() {
	rm -f "$out"
	# Under make bench-host this is the user's machine: put the limit back.
	[ -z "$map_count_was" ] || echo "$map_count_was" >/proc/sys/vm/max_map_count
	lsmod 2>/dev/null | grep -q '^vmashadow ' && rmmod vmashadow
	mkdir -p "$results/path"
	dmesg >"$results/path/dmesg.log"
	echo "$rc" >"$results/path/guest-rc"
	sync
}
trap finish EXIT

case "$how" in
icount) icount=(--icount) ;;
pmu) icount=() ;;
*) echo "$0: the last argument must be icount or pmu" >&2; rc=2; exit ;;
esac
mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
# fallback: user with every speculative validation failing (fail_fault_spec).
if [ -d /sys/kernel/debug/fail_fault_spec ]; then cases+=(fallback); fi

# The admission window in force, as the module reports it: the bench waits
# it out (see above).
# shellcheck disable=SC2086 # the parameters are words
if ! insmod "$ko" $module_params; then
	rc=1
	exit
fi
admit_now=$(cat "$dbg/admit_ms") && rmmod vmashadow || { rc=1; exit; }
settle=$((admit_now > 0 ? 2 * admit_now + 10 : 0))

# K one-page VMAs between PROT_NONE gaps are 2K+1 VMAs, plus the program's.
max_vmas=0
for k in $vmas_list; do
	[ "$k" -gt "$max_vmas" ] && max_vmas=$k
done
need=$((2 * max_vmas + 4096))
if [ "$(cat /proc/sys/vm/max_map_count)" -lt "$need" ]; then
	map_count_was=$(cat /proc/sys/vm/max_map_count)
	echo "vmashadow-path: vm.max_map_count $map_count_was -> $need for this run (restored at its end)" >&2
	echo "$need" >/proc/sys/vm/max_map_count || { map_count_was=; rc=1; exit; }
fi

# Address-space randomisation off for the bench (setarch -R, this process
# only): the index's tree, like mm_mt, takes its shape from the addresses
# of the mappings, so with ASLR a hit's cost moved by tens of instructions
# from boot to boot while runs inside one boot agreed to a few.
norand=()
if setarch "$(uname -m)" -R true 2>/dev/null; then
	norand=(setarch "$(uname -m)" -R)
fi

# Which counter: perf if it opens and counts, else the clock, which under
# -icount is the instruction count. Decided once, then forced, so that no
# run of this boot counts differently. This run is also the warm-up.
"${norand[@]}" "$bench" path --case user --rounds 1 --settle "$settle" "${icount[@]}" >"$out" 2>&1
counter=$(sed -n 's/^# path counter=\([a-z]*\).*/\1/p' "$out" | head -n 1)
case "$counter" in
perf) force=(--counter perf) ;;
icount | clock) force=(--counter clock "${icount[@]}") ;;
*) cat "$out" >>"$log"; echo "vmashadow-path: the bench program failed" >&2; rc=1; exit ;;
esac
{
	echo "counter: $counter"
	sed -n 's/^# \(perf_event_open.*\)/path counter note: \1/p' "$out"
	echo "path cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
	guest_accel | sed 's/^/path /'
	echo "path vcpus: $(nproc)"
	echo "path runs: $reps (no warm-up repetition: the run is deterministic up to the guest's interrupts)"
	echo "path vmas: $vmas_list"
	echo "path modes: none ${modes[*]}"
	echo "path module: $module_params (admit_ms $admit_now)"
	echo "path settle_ms: $settle"
	echo "path max_map_count: $(cat /proc/sys/vm/max_map_count)"
	echo "path aslr: $([ ${#norand[@]} -gt 0 ] && echo "off (setarch -R)" || echo "on (no setarch)")"
} >>"$results/meta.txt"

# One process: all those cases with K other VMAs; at the first K, then a
# process for procs (short-lived processes forked from it: only the whole
# guest's count, -icount's clock, sees their instructions, so not with
# perf). A RUN line before each case's RESULT; a case that printed none
# failed.
run_one() {
	local rep=$1 mode=$2 k=$3 t brc=0 c want=("${cases[@]}")
	t=$(date +%s)
	: >"$out"
	if [ "$mode" != none ] && ! { echo "$mode" >"$dbg/mode" && echo 1 >"$dbg/reset"; }; then
		brc=125	# no run: the mode could not be set
	else
		"${norand[@]}" "$bench" path --vmas "$k" --settle "$settle" "${force[@]}" >"$out" 2>&1
		brc=$?
		# young: a fresh process, no settling: its region's first 50 ms.
		want+=(young)
		"${norand[@]}" "$bench" path --case young --vmas "$k" "${force[@]}" >>"$out" 2>&1 ||
			brc=$?
		# split: a hot region split in two, the new half's first 50 ms.
		want+=(split)
		"${norand[@]}" "$bench" path --case split --vmas "$k" --settle "$settle" "${force[@]}" \
			>>"$out" 2>&1 || brc=$?
		if [ "$k" = "$first_k" ] && [ "$counter" != perf ]; then
			want+=(procs)
			"${norand[@]}" "$bench" path --case procs --vmas "$k" "${force[@]}" >>"$out" 2>&1 ||
				brc=$?
		fi
	fi
	awk -v head="RUN rep=$rep mode=$mode scenario=path" -v t="$t" '
		/^RESULT scenario=path / {
			v = $3; sub(/^variant=/, "", v)
			print head " variant=" v " threads=1 t=" t
		}
		{ print }' "$out"
	for c in "${want[@]}"; do
		grep -q "^RESULT scenario=path variant=$c-vmas$k " "$out" && continue
		echo "RUN rep=$rep mode=$mode scenario=path variant=$c-vmas$k threads=1 t=$t"
		echo "FAIL rep=$rep mode=$mode scenario=path variant=$c-vmas$k threads=1 rc=$((brc ? brc : 1))"
		rc=1
	done
	[ "$mode" = none ] || sed "s/^/STATS mode=$mode /" "$dbg/stats"
}

nk=$(wc -w <<<"$vmas_list")
read -r first_k _ <<<"$vmas_list"
total=$((reps * nk * (1 + ${#modes[@]})))
done_runs=0
for rep in $(seq 1 "$reps"); do
	for k in $vmas_list; do
		run_one "$rep" none "$k" >>"$log"
		done_runs=$((done_runs + 1))
	done
	# shellcheck disable=SC2086 # the parameters are words
	insmod "$ko" $module_params || { rc=1; exit; }
	for k in $vmas_list; do
		for ((i = 0; i < ${#modes[@]}; i++)); do
			mode=${modes[$(((rep + i) % ${#modes[@]}))]}
			run_one "$rep" "$mode" "$k" >>"$log"
			done_runs=$((done_runs + 1))
		done
	done
	rmmod vmashadow || { rc=1; exit; }
	echo "vmashadow-path: repetition $rep/$reps done ($done_runs/$total processes)" >&2
done
