#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs *inside* the guest (scripts/vm.sh --exec) for `make bench`: loads the
# module, then runs every scenario in every mode, the modes rotated each
# repetition (ABCD, BCDA, ...), repetition 0 being the warm-up the report
# discards. Everything goes to RESULTS/raw.log:
#
#   RUN rep=R mode=M scenario=S variant=V threads=N t=EPOCH   before each run
#   RESULT ..., DIAG ...                              the bench's own lines
#   DIAG scenario=S variant=V threads=N vmstat_...    /proc/vmstat deltas of
#                                                     the run, per 1000 faults
#   FAIL rep=R mode=M scenario=S variant=V threads=N rc=RC
#   STATS mode=M <line of the module's stats file>    after each run
#
#   guest-bench.sh RESULTS KO BENCH REPS SECONDS SCENARIO[,SCENARIO...] [THREADS]
#   guest-bench.sh --plan VCPUS SCENARIO[,SCENARIO...] [THREADS]
#
# THREADS: comma-separated faulting thread counts (validated by bench.sh),
# or - (the default) for vCPUs-1, vCPUs and 2*vCPUs.
# --plan prints the configurations ("SCENARIO VARIANT THREADS", one a line)
# a run on VCPUS vCPUs would do in each mode and repetition, and exits:
# nothing is loaded, run or written (bench.sh's plan, on the host).

set -uo pipefail

plan_vcpus=
if [ "${1:-}" = --plan ]; then
	[ $# -eq 3 ] || [ $# -eq 4 ] ||
		{ echo "usage: $0 --plan VCPUS SCENARIOS [THREADS]" >&2; exit 2; }
	plan_vcpus=$2 only=,$3, threads_arg=${4:--}
	# What the meta.txt block below writes goes to a scratch directory.
	results=$(mktemp -d) bench=true reps=0 secs=0
	trap 'rm -rf "$results"' EXIT
else
	[ $# -eq 6 ] || [ $# -eq 7 ] ||
		{ echo "usage: $0 RESULTS KO BENCH REPS SECONDS SCENARIOS [THREADS]" >&2; exit 2; }
	results=$1 ko=$2 bench=$3 reps=$4 secs=$5 only=,$6, threads_arg=${7:--}
fi
. "$(dirname "$0")/guest-accel.sh"
dbg=/sys/kernel/debug/vmashadow
mapfile -t modes < <(vms_modes)
rc=0
vm0=$(mktemp) vm1=$(mktemp)

finish() {
	rm -f "$vm0" "$vm1"
	dmesg >"$results/dmesg.log"
	echo "$rc" >"$results/guest-rc"
	sync
}
if [ -z "$plan_vcpus" ]; then
	trap finish EXIT
	mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
	insmod "$ko" mode=0 || { rc=1; exit; }
fi

vcpus=${plan_vcpus:-$(nproc)}
mem_kb=$(sed -n 's/^MemTotal:[[:space:]]*\([0-9]*\).*/\1/p' /proc/meminfo)

# Faulting threads for contended and kernel-faults: one per vCPU but the
# one the writer churns on (the only uncontended CPU count), one per vCPU,
# and twice that (where the faulters queue for the CPUs and for mmap_lock
# behind a waiting writer, as programs with more threads than CPUs do).
# Deduplicated, ascending, at least 1.
if [ "$threads_arg" = - ]; then
	fault_threads=$((vcpus > 1 ? vcpus - 1 : 1))" $vcpus $((2 * vcpus))"
else
	fault_threads=${threads_arg//,/ }
fi
read -ra ft <<<"$fault_threads"
fault_threads=$(printf '%s\n' "${ft[@]}" | sort -n -u | tr '\n' ' ')
fault_threads=${fault_threads% }
tmax=${fault_threads##* }
# latency: where it shows, most faulters (2*vCPUs by default).
lat_threads=$tmax
# scale: 1, 2, 4, ... up to the vCPUs, and the vCPUs.
scale_threads=
for ((n = 1; n < vcpus; n *= 2)); do
	scale_threads+="$n "
done
scale_threads+=$vcpus
# The community's workloads (will-it-scale page_fault1..3, mmtests pft) at
# one task per vCPU, their usual top point, or at each of THREADS.
if [ "$threads_arg" = - ]; then
	community_threads=$vcpus
else
	community_threads=$fault_threads
fi
# will-it-scale maps 128 MiB per task; under TCG a fault costs ~50 us, so
# one 128 MiB round (32768 faults) would outlast a run. 16 MiB per task
# (4096 faults a round, still 16 times the contended scenarios' regions),
# less if a quarter of the guest's memory cannot hold them all: page_fault3
# keeps each task's tmpfs file in memory. pft: a 16 MiB region shared by
# the threads (pft's own default is sized to the machine).
wis_mb() {
	local mb=$((mem_kb / 1024 / 4 / $1))
	echo $((mb > 16 ? 16 : mb < 1 ? 1 : mb))
}
pft_mb=16

{
	echo "kernel: $(uname -r) $(uname -v)"
	echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
	guest_accel
	echo "vcpus: $vcpus"
	echo "memory: $(sed -n 's/^MemTotal:[[:space:]]*//p' /proc/meminfo)"
	echo "runs: $reps (plus one warm-up)"
	echo "seconds: $secs"
	echo "modes: ${modes[*]}"
	# The bench program's, and the wrapper's own latency ("contended --latency").
	echo "scenarios: $("$bench" --list | sed 's/^kernel-faults$/kernel-faults\nlatency/' | tr '\n' ' ' | sed 's/ $//')"
	echo "selected: $(xargs <<<"${only//,/ }")"
	echo "threads: $fault_threads (latency: $lat_threads; scale: $scale_threads; page_fault*, pft: $community_threads)"
	echo "page_fault mb: $(wis_mb "${community_threads##* }") per task at ${community_threads##* } tasks (will-it-scale: 128)"
	echo "pft mb: $pft_mb"
} >>"$results/meta.txt"

# Each writer twice: munmap holds mmap_lock for writing only briefly (it
# downgrades before zapping), mprotect across a page-table walk and a TLB
# flush. Latency with the latter: under the former so few faults ever wait
# for mmap_lock that no percentile sees them. Churn: one thread maps,
# faults and unmaps 16 pages, alone (no TLB-flush IPIs to hide behind), in
# a small process and in one with 256 more VMAs the index holds: what the
# index costs the writer.
configs=()
for n in $fault_threads; do
	configs+=("contended munmap $n" "contended mprotect $n")
done
configs+=("uncontended - 1")
for n in $fault_threads; do
	configs+=("kernel-faults munmap $n" "kernel-faults mprotect $n")
done
configs+=("latency mprotect $lat_threads" "churn - 1" "churn vmas256 1")
for n in $scale_threads; do
	configs+=("scale - $n")
done
for n in $community_threads; do
	for s in page_fault1 page_fault2 page_fault3; do
		configs+=("$s threads $n" "$s processes $n")
	done
	configs+=("pft - $n")
done
# Processes that come and go: the hook's per-mm state must cost O(1) to
# create and to free (batches of vCPUs children; then 2000 exiting at once).
configs+=("procs fork $vcpus" "procs exit 1")
# ONLY: keep the configurations of the scenarios asked for.
wanted=()
for cfg in "${configs[@]}"; do
	[[ "$only" == *",${cfg%% *},"* ]] && wanted+=("$cfg")
done
configs=("${wanted[@]}")
if [ -n "$plan_vcpus" ]; then
	[ ${#configs[@]} -eq 0 ] || printf '%s\n' "${configs[@]}"
	exit 0
fi

# The fault path's /proc/vmstat counters, one "name value" a line.
vmstat_snap() {
	grep -E '^(pgfault|vma_lock_[a-z]+|fault_vma_hook_[a-z]+) ' /proc/vmstat
}

# One DIAG line: each counter's delta per 1000 page faults (pgfault) of the
# whole run (warm-up and start-up included), so modes compare at any rate.
vmstat_diag() {
	local scenario=$1 variant=$2 threads=$3 before=$4 after=$5
	awk -v head="DIAG scenario=$scenario variant=$variant threads=$threads" '
		NR == FNR { b[$1] = $2; next }
		{ d[$1] = $2 - b[$1]; order[++n] = $1 }
		END {
			if (d["pgfault"] <= 0)
				exit
			line = head
			for (i = 1; i <= n; i++)
				if (order[i] != "pgfault")
					line = line sprintf(" vmstat_%s=%.3f", order[i],
							    1000 * d[order[i]] / d["pgfault"])
			print line
		}' "$before" "$after"
}

run_one() {
	local rep=$1 mode=$2 scenario=$3 variant=$4 threads=$5 args=()
	case "$scenario" in
	latency) args=(contended --latency --variant "$variant") ;;
	uncontended | scale) args=("$scenario") ;;
	churn)
		args=(churn)
		[ "$variant" = - ] || args+=(--vmas "${variant#vmas}")
		;;
	page_fault[123]) args=("$scenario" --variant "$variant" --mb "$(wis_mb "$threads")") ;;
	pft) args=(pft --mb "$pft_mb") ;;
	procs) args=(procs --variant "$variant") ;;
	*) args=("$scenario" --variant "$variant") ;;
	esac
	echo "$mode" >"$dbg/mode" && echo 1 >"$dbg/reset" || return 1
	echo "RUN rep=$rep mode=$mode scenario=$scenario variant=$variant threads=$threads t=$(date +%s)"
	vmstat_snap >"$vm0"
	"$bench" "${args[@]}" --threads "$threads" --seconds "$secs"
	local brc=$?
	vmstat_snap >"$vm1"
	# As the bench names them: a latency run is "contended --latency".
	vmstat_diag "${scenario/#latency/contended}" "$variant" "$threads" "$vm0" "$vm1"
	if [ "$brc" -ne 0 ]; then
		echo "FAIL rep=$rep mode=$mode scenario=$scenario variant=$variant threads=$threads rc=$brc"
		rc=1
	fi
	sed "s/^/STATS mode=$mode /" "$dbg/stats"
}

total=$(((reps + 1) * ${#configs[@]} * ${#modes[@]}))
done_runs=0
for rep in $(seq 0 "$reps"); do
	for cfg in "${configs[@]}"; do
		read -r scenario variant threads <<<"$cfg"
		for ((i = 0; i < ${#modes[@]}; i++)); do
			mode=${modes[$(((rep + i) % ${#modes[@]}))]}
			run_one "$rep" "$mode" "$scenario" "$variant" "$threads" >>"$results/raw.log" 2>&1
			done_runs=$((done_runs + 1))
		done
	done
	echo "vmashadow-bench: repetition $rep/$reps done ($done_runs/$total runs)" >&2
done

rmmod vmashadow || rc=1
