#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs *inside* the guest (scripts/vm.sh --exec) for `make bench`: loads the
# module, then runs every scenario in every mode, the modes rotated each
# repetition (ABCD, BCDA, ...), repetition 0 being the warm-up the report
# discards. Everything goes to RESULTS/raw.log:
#
#   RUN rep=R mode=M scenario=S variant=V threads=N   before each run
#   RESULT ...                                        the bench's own lines
#   FAIL rep=R mode=M scenario=S variant=V threads=N rc=RC
#   STATS mode=M <line of the module's stats file>    after each run
#
#   guest-bench.sh RESULTS KO BENCH REPS SECONDS

set -uo pipefail

[ $# -eq 5 ] || { echo "usage: $0 RESULTS KO BENCH REPS SECONDS" >&2; exit 2; }
results=$1 ko=$2 bench=$3 reps=$4 secs=$5
dbg=/sys/kernel/debug/vmashadow
modes=(stock mmap pervma shadow)
rc=0

finish() {
	dmesg >"$results/dmesg.log"
	echo "$rc" >"$results/guest-rc"
	sync
}
trap finish EXIT

mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
insmod "$ko" mode=0 || { rc=1; exit; }

vcpus=$(nproc)
{
	echo "kernel: $(uname -r) $(uname -v)"
	echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
	echo "vcpus: $vcpus"
	echo "memory: $(sed -n 's/^MemTotal:[[:space:]]*//p' /proc/meminfo)"
	echo "runs: $reps (plus one warm-up)"
	echo "seconds: $secs"
} >>"$results/meta.txt"

# Faulting threads: one per vCPU but the one the writer churns on.
nfault=$((vcpus > 1 ? vcpus - 1 : 1))
configs=(
	"contended munmap $nfault"
	"contended mprotect $nfault"
	"uncontended - 1"
	"kernel-faults munmap $nfault"
	"latency munmap $nfault"
)
for n in $(seq 1 "$vcpus"); do
	configs+=("scale - $n")
done

run_one() {
	local rep=$1 mode=$2 scenario=$3 variant=$4 threads=$5 args=()
	case "$scenario" in
	latency) args=(contended --latency --variant "$variant") ;;
	uncontended | scale) args=("$scenario") ;;
	*) args=("$scenario" --variant "$variant") ;;
	esac
	echo "$mode" >"$dbg/mode" && echo 1 >"$dbg/reset" || return 1
	echo "RUN rep=$rep mode=$mode scenario=$scenario variant=$variant threads=$threads"
	"$bench" "${args[@]}" --threads "$threads" --seconds "$secs"
	local brc=$?
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
		for i in 0 1 2 3; do
			mode=${modes[$(((rep + i) % 4))]}
			run_one "$rep" "$mode" "$scenario" "$variant" "$threads" >>"$results/raw.log" 2>&1
			done_runs=$((done_runs + 1))
		done
	done
	echo "vmashadow-bench: repetition $rep/$reps done ($done_runs/$total runs)" >&2
done

rmmod vmashadow || rc=1
