#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs *inside* the guest (scripts/vm.sh --exec) for `make bench-coherence`
# (scripts/bench/coherence-bench.sh): the guest half of the coherence bench. The
# guest was booted with the coherence plugin (tools/coherence/) loaded into
# QEMU, writing RESULTS/report.csv.K for the K-th window of this boot; this
# script opens exactly one window per run (cohctl run TAG -- BENCH ...) and
# logs, for each, what the plugin cannot know: the kernel's own fault count
# over the window and the fault path's /proc/vmstat counters.
#
# Per repetition: every scenario with the module not loaded (mode none, if
# asked for), then the module is loaded and every scenario runs in each of
# the other modes, rotated with the repetition (stock mmap pervma shadow,
# mmap pervma shadow stock, ...), then it is unloaded. Repetition 0 is a
# warm-up (page cache, TCG's translations): its windows are logged as
# rep=0 and the report leaves them out.
#
# Everything goes to RESULTS/windows.log, one line a window:
#
#   WINDOW k=K tag=T rep=R mode=M scenario=S threads=N rc=RC pgfault=D
#          bench_faults=F vmstat_X=D...
#
# pgfault is the delta of /proc/vmstat's pgfault read just before and just
# after `cohctl run` (so it covers the window and a little more: cohctl's
# fork and exec); bench_faults is the bench program's own count (getrusage,
# its measured iterations only). And one line per boot on page_fault1's
# VMAs (see merge_check):
#
#   MERGE threads=N samples=S regions=R vmas=V largest_mb=L
#
#   guest-coherence.sh RESULTS KO BENCH COHCTL REPS SECONDS MODES SCENARIOS
#
# MODES and SCENARIOS comma-separated: modes of none stock mmap pervma
# shadow; scenarios of pft page_fault1 contended kernel-faults.

set -uo pipefail

[ $# -eq 8 ] ||
	{ echo "usage: $0 RESULTS KO BENCH COHCTL REPS SECONDS MODES SCENARIOS" >&2; exit 2; }
results=$1 ko=$2 bench=$3 cohctl=$4 reps=$5 secs=$6
IFS=, read -ra modes <<<"$7"
IFS=, read -ra scenarios <<<"$8"
. "$(dirname "$0")/guest-accel.sh"
dbg=/sys/kernel/debug/vmashadow
log=$results/windows.log
rc=0
k=0
vm0=$(mktemp) vm1=$(mktemp) out=$(mktemp)

finish() {
	rm -f "$vm0" "$vm1" "$out"
	lsmod 2>/dev/null | grep -q '^vmashadow ' && rmmod vmashadow
	dmesg >"$results/dmesg.log"
	echo "$rc" >"$results/guest-rc"
	sync
}
trap finish EXIT

for f in "$bench" "$cohctl" "$ko"; do
	[ -r "$f" ] || { echo "$0: $f: missing" >&2; rc=2; exit; }
done
mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
vcpus=$(nproc)
# The faulters of the scenarios with a writer: one per vCPU but the
# writer's; the others: one per vCPU.
wthreads=$((vcpus > 1 ? vcpus - 1 : 1))
# page_fault1: 16 MiB per thread (as make bench), less if a quarter of the
# guest's memory cannot hold them all.
mem_kb=$(sed -n 's/^MemTotal:[[:space:]]*\([0-9]*\).*/\1/p' /proc/meminfo)
wis_mb=$((mem_kb / 1024 / 4 / vcpus))
wis_mb=$((wis_mb > 16 ? 16 : wis_mb < 1 ? 1 : wis_mb))
{
	echo "kernel: $(uname -r) $(uname -v)"
	echo "cmdline: $(cat /proc/cmdline)"
	guest_accel
	echo "vcpus: $vcpus"
	echo "memory: $(sed -n 's/^MemTotal:[[:space:]]*//p' /proc/meminfo)"
	echo "reps: $reps (plus warm-up rep 0)"
	echo "seconds: $secs"
	echo "modes: ${modes[*]}"
	echo "scenarios: ${scenarios[*]}"
	echo "threads: pft $vcpus, page_fault1 $vcpus (${wis_mb} MiB each), contended $wthreads + writer, kernel-faults $wthreads + writer"
} >"$results/meta.txt"

vmstat_snap() {
	grep -E '^(pgfault|vma_lock_[a-z]+|fault_vma_hook_[a-z]+) ' /proc/vmstat
}

bench_args() { # scenario -> the bench's arguments
	case "$1" in
	pft) echo "pft --threads $vcpus --mb 16" ;;
	page_fault1) echo "page_fault1 --variant threads --threads $vcpus --mb $wis_mb" ;;
	contended) echo "contended --variant munmap --threads $wthreads" ;;
	kernel-faults) echo "kernel-faults --variant munmap --threads $wthreads" ;;
	*) return 1 ;;
	esac
}

# One window: one run of the bench program inside it.
window() {
	local rep=$1 mode=$2 scenario=$3 args brc line faults threads
	args=$(bench_args "$scenario") || { echo "$0: unknown scenario $scenario" >&2; rc=2; exit; }
	threads=$(awk '{ for (i = 1; i < NF; i++) if ($i == "--threads") print $(i + 1) }' <<<"$args")
	if [ "$mode" != none ]; then
		echo "$mode" >"$dbg/mode" && echo 1 >"$dbg/reset" || { rc=1; return; }
	fi
	k=$((k + 1))
	vmstat_snap >"$vm0"
	# shellcheck disable=SC2086 # the arguments are words
	"$cohctl" run $((k % 256)) -- "$bench" $args --seconds "$secs" >"$out" 2>&1
	brc=$?
	vmstat_snap >"$vm1"
	faults=$(sed -n 's/^RESULT .* faults=\([0-9]*\) .*/\1/p' "$out" | head -n 1)
	line=$(awk -v head="WINDOW k=$k tag=$((k % 256)) rep=$rep mode=$mode scenario=$scenario threads=$threads rc=$brc" \
		-v bf="${faults:-0}" '
		NR == FNR { b[$1] = $2; next }
		{ d[$1] = $2 - b[$1]; order[++n] = $1 }
		END {
			line = head " pgfault=" d["pgfault"] " bench_faults=" bf
			for (i = 1; i <= n; i++)
				if (order[i] != "pgfault")
					line = line " vmstat_" order[i] "=" d[order[i]]
			print line
		}' "$vm0" "$vm1")
	echo "$line" >>"$log"
	sed "s/^/# k=$k: /" "$out" >>"$results/bench.log"
	if [ "$brc" -ne 0 ] || [ -z "$faults" ]; then
		echo "FAIL k=$k rep=$rep mode=$mode scenario=$scenario rc=$brc" >>"$log"
		echo "vmashadow-coherence: window $k ($mode $scenario) failed: rc=$brc" >&2
		tail -n 3 "$out" >&2
		rc=1
	fi
}

# page_fault1's threads each mmap their own region, but the kernel places
# anonymous mappings next to each other, and two adjacent ones with the
# same flags merge into one VMA: are the threads' regions one VMA? Sampled
# outside any window (nothing counted): /proc/PID/maps a few times while a
# run goes, counting the anonymous rw-p mappings that hold whole 16 MiB
# regions (none of the process's other mappings is a multiple of 16 MiB).
merge_check() {
	local pid i n regs big range perms inode path len r maps samples=0 regions=0 vmas=0 largest=0 mb=$wis_mb
	maps=$(mktemp)
	"$bench" page_fault1 --variant threads --threads "$vcpus" --mb "$mb" \
		--seconds 2 >/dev/null 2>&1 &
	pid=$!
	sleep 0.5
	for i in 1 2 3 4 5 6 7 8; do
		cat "/proc/$pid/maps" >"$maps" 2>/dev/null || true
		[ -s "$maps" ] || continue
		n=0 regs=0 big=0
		while read -r range perms _ _ inode path; do
			[ "$perms" = rw-p ] && [ "$inode" = 0 ] && [ -z "$path" ] || continue
			len=$((16#${range#*-} - 16#${range%-*}))
			r=$((len / (mb << 20)))
			[ "$r" -ge 1 ] && [ $((len % (mb << 20))) -eq 0 ] || continue
			n=$((n + 1)) regs=$((regs + r))
			[ "$r" -le "$big" ] || big=$r
		done <"$maps"
		samples=$((samples + 1)) regions=$((regions + regs)) vmas=$((vmas + n))
		[ "$big" -le "$largest" ] || largest=$big
		sleep 0.1
	done
	wait "$pid"
	rm -f "$maps"
	echo "MERGE threads=$vcpus mb=$mb samples=$samples regions=$regions vmas=$vmas largest_regions=$largest" >>"$log"
}

echo "BOOT vcpus=$vcpus modes=${modes[*]} scenarios=${scenarios[*]} reps=$reps seconds=$secs" >>"$log"
[[ " ${scenarios[*]} " != *" page_fault1 "* ]] || merge_check
loaded=0
for rep in $(seq 0 "$reps"); do
	rot=()
	for m in "${modes[@]}"; do
		[ "$m" = none ] || rot+=("$m")
	done
	if [[ " ${modes[*]} " == *" none "* ]]; then
		for s in "${scenarios[@]}"; do
			window "$rep" none "$s"
		done
	fi
	[ ${#rot[@]} -gt 0 ] || continue
	if [ "$loaded" = 0 ]; then
		insmod "$ko" mode=0 || { rc=1; exit; }
		loaded=1
	fi
	for s in "${scenarios[@]}"; do
		for i in "${!rot[@]}"; do
			window "$rep" "${rot[$(((rep + i) % ${#rot[@]}))]}" "$s"
		done
	done
	if [[ " ${modes[*]} " == *" none "* ]]; then
		rmmod vmashadow || { rc=1; exit; }
		loaded=0
	fi
	echo "vmashadow-coherence: $vcpus vCPUs: repetition $rep/$reps done ($k windows)" >&2
done
echo "END windows=$k" >>"$log"
