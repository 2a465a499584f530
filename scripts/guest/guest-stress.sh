#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs *inside* the guest (scripts/vm.sh --exec): suites nobody here wrote,
# with the module loaded, in each mode. Driven by scripts/test/stress.sh (make
# stress) and scripts/test/test.sh (make test's slice).
#
#   guest-stress.sh --results DIR --ko KO --selftests DIR --mm DIR
#                   [--plan slice|full] [--seconds N] [--modes stock,...]
#                   [--parts mm,stress-ng,trinity,failinject]
#
# --plan slice runs make test's bounded slice (the lines of
# upstream-mm.list marked for it, four stressors in shadow, 600 trinity
# ops, two races under injection); --plan full runs everything within
# --seconds (see "The budget" below). Parts, in the order given (each in
# every mode of --modes unless said otherwise):
#   mm          the kernel's mm selftests (scripts/test/upstream-mm.list; the
#               plan "slice" runs the lines marked for it)
#   stress-ng   stress-ng's vm-class stressors with --verify, each bounded
#               in time; its exit status, verify failures and bogo ops
#               (> 0: it really ran) count (the slice: shadow only)
#   trinity     trinity as nobody, the vm group, bounded by an op count
#               (shadow only, kernel_faults=1)
#   failinject  failslab, then fail_page_alloc, scoped to a race workload
#               by the task filter, only GFP_NOWAIT allocations failing
#               (shadow only)
# Around them, always: kmemleak scanned and cleared before insmod, scanned
# twice after the runs and the rmmod: any new leak fails the run.
#
# Writes into DIR: stress-tap.log (one TAP line per tool x mode x test,
# named TOOL.MODE.NAME), stress.tsv (tool, mode, name, result, seconds,
# detail), logs/TOOL/MODE/NAME.log, kmemleak.txt, dmesg.log, guest-rc.

set -uo pipefail

. "$(dirname "$0")/guest-accel.sh" # vms_modes

usage() {
	echo "usage: $0 --results DIR --ko KO --selftests DIR --mm DIR [--plan slice|full] [--seconds N] [--modes M,M... of $(vms_modes | paste -sd,)] [--parts mm,stress-ng,trinity,failinject]" >&2
	exit 2
}

results='' ko='' selftests='' mm='' plan=full seconds=600
modes=$(vms_modes | xargs)
parts="mm stress-ng trinity failinject"
while [ $# -gt 0 ]; do
	case "$1" in
	--results) results=${2:-}; shift 2 ;;
	--ko) ko=${2:-}; shift 2 ;;
	--selftests) selftests=${2:-}; shift 2 ;;
	--mm) mm=${2:-}; shift 2 ;;
	--plan) plan=${2:-}; shift 2 ;;
	--seconds) seconds=${2:-}; shift 2 ;;
	--modes) modes=${2//,/ }; shift 2 ;;
	--parts) parts=${2//,/ }; shift 2 ;;
	*) usage ;;
	esac
done
[ -n "$results" ] && [ -d "$results" ] && [ -w "$results" ] || usage
[ -n "$ko" ] && [ -r "$ko" ] || usage
case "$plan" in slice | full) ;; *) usage ;; esac
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || usage
for m in $modes; do
	vms_modes | grep -qx -- "$m" || usage
done
for p in $parts; do
	case "$p" in mm | stress-ng | trinity | failinject) ;; *) usage ;; esac
done

top=$(cd "$(dirname "$0")/../.." && pwd)
dbg=/sys/kernel/debug
vms=$dbg/vmashadow
tap=$results/stress-tap.log
tsv=$results/stress.tsv
rc=0
n=0
t_start=$(date +%s)
: >"$tap"
printf 'tool\tmode\tname\tresult\tseconds\tdetail\n' >"$tsv"

# Builtins only where it runs per result: a fork costs ~1 s in this guest.
now() { printf -v "$1" '%(%s)T' -1; }
say() {
	local t
	now t
	echo "vmashadow-stress [$((t - t_start))s]: $*" >&2
}

finish() {
	dmesg >"$results/dmesg.log"
	echo "$rc" >"$results/guest-rc"
	sync
}
trap finish EXIT

# record TOOL MODE NAME passed|failed|skipped SECONDS DETAIL
# One TAP line named TOOL.MODE.NAME (a skip's reason after "# SKIP", a
# failure's detail on a "# " line below it), one line of stress.tsv.
record() {
	local tool=$1 mode=$2 name=$3 res=$4 secs=$5 detail=${6:-}
	detail=${detail//[$'\t\n#']/ }
	detail=${detail:0:300}
	n=$((n + 1))
	case "$res" in
	passed) echo "ok $n $tool.$mode.$name" ;;
	skipped) echo "ok $n $tool.$mode.$name # SKIP ${detail:-no reason given}" ;;
	*) printf 'not ok %s %s\n# %s\n' "$n" "$tool.$mode.$name" "$detail" ;;
	esac >>"$tap"
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$mode" "$name" "$res" "$secs" "$detail" >>"$tsv"
	[ "$res" != failed ] || rc=1
	say "$tool.$mode.$name: $res (${secs}s)${detail:+ $detail}"
}

# A writable directory in the guest's memory (the root is the host's, read
# only): /tmp, or /dev/shm.
tmpdir() {
	mktemp -d "/tmp/vmashadow-$1.XXXXXX" 2>/dev/null || mktemp -d "/dev/shm/vmashadow-$1.XXXXXX"
}

# Mode $1, kernel faults on, and every VMA indexed at its first miss in
# shadow (admit_ms and min_age_ms 0: the most index traffic, as the
# project's race suite runs it), counters reset.
set_mode() {
	echo "$1" >"$vms/mode" && echo 1 >"$vms/kernel_faults" &&
		echo 0 >"$vms/admit_ms" && echo 0 >"$vms/min_age_ms" &&
		echo 1 >"$vms/reset"
}

# The module's own account of a run, one line: indexes, entries, hits
# and misses (candidates the core validated or rejected) and the hit rate
# hits / (hits + misses), then per mode (stock/mmap/pervma/shadow) the
# candidates, the faults served under mmap_lock after the hook
# (fill_careful) and the index's allocation failures (nomem).
stats_line() {
	awk '$1 == "hits" || $1 == "misses" || $1 == "indexes" || $1 == "entries" { printf "%s %s ", $1, $2; v[$1] = $2 }
		$1 == "nomem" || $1 == "candidates" || $1 == "fill_careful" { printf "%s %s/%s/%s/%s ", $1, $2, $3, $4, $5 }
		END { if (v["hits"] + v["misses"] > 0) printf "hit rate %.1f%%", 100 * v["hits"] / (v["hits"] + v["misses"]) }' \
		"$vms/stats" 2>/dev/null
}

# ---------------------------------------------------------------- kmemleak
kml=$dbg/kmemleak
kmemleak_ok=0
kmemleak_baseline() {
	if [ ! -w "$kml" ] || ! echo scan >"$kml" 2>/dev/null; then
		say "kmemleak not available ($kml): no leak check"
		return
	fi
	kmemleak_ok=1
	# Whatever the boot itself leaked (or looks leaked) is not ours.
	cat "$kml" >"$results/kmemleak-baseline.txt"
	echo clear >"$kml"
}

kmemleak_check() {
	local t0 leaks
	t0=$(date +%s)
	if [ "$kmemleak_ok" = 0 ]; then
		record kmemleak all leaks skipped 0 "kmemleak not available in this kernel"
		return
	fi
	# Objects younger than 5 s are never reported, and RCU frees are
	# in flight: wait, then scan twice.
	sleep 6
	echo scan >"$kml"
	sleep 6
	echo scan >"$kml"
	cat "$kml" >"$results/kmemleak.txt"
	leaks=$(grep -c '^unreferenced object' "$results/kmemleak.txt")
	if [ "$leaks" = 0 ]; then
		record kmemleak all leaks passed $(($(date +%s) - t0)) "0 new leaks after the runs and rmmod"
	else
		record kmemleak all leaks failed $(($(date +%s) - t0)) "$leaks new leaks (kmemleak.txt): $(grep -m1 -A12 '^unreferenced object' "$results/kmemleak.txt" | grep -m1 -E '\[<' | sed 's/^ *//')"
	fi
}

# --------------------------------------------------------------------- mm
# mm_one MODE WORK NAME TIMEOUT COMMAND: one test of upstream-mm.list.
mm_one() {
	local mode=$1 work=$2 name=$3 tmo=$4 cmd=$5 out t0 st secs detail run=()
	out=$results/logs/mm/$mode/$name.log
	mkdir -p "${out%/*}"
	if [[ "$cmd" == "@nobody "* ]]; then
		cmd=${cmd#@nobody }
		run=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	fi
	set_mode "$mode"
	now t0
	# The full plan's end bounds a test too (cow's timeout is 30 min):
	# one cut there is not a failure of its own timeout.
	local cap=$tmo
	[ "$plan" = slice ] || [ $((run_end - t0)) -ge "$tmo" ] || cap=$((run_end - t0))
	[ "$cap" -ge 60 ] || cap=60
	(
		cd "$work" || exit 1
		# shellcheck disable=SC2086 # the list's words
		exec timeout -k 10 "$cap" "${run[@]}" $cmd
	) >"$out" 2>&1 </dev/null
	st=$?
	now secs
	secs=$((secs - t0))
	# The harness' totals as the detail.
	detail=$(grep -m1 -E '^# Totals:|^# (PASS|FAIL|SKIP)' "$out")
	case "$st" in
	0) record mm "$mode" "$name" passed "$secs" "$detail" ;;
	4) record mm "$mode" "$name" skipped "$secs" \
		"$(grep -m1 -iE 'skip' "$out" | sed 's/^[# ]*//' | cut -c1-160)" ;;
	124 | 137)
		if [ "$cap" -lt "$tmo" ]; then
			record mm "$mode" "$name" skipped "$secs" "cut after ${cap}s at the end of the run's time (DURATION; its timeout is ${tmo}s)"
		else
			record mm "$mode" "$name" failed "$secs" "timed out after ${tmo}s"
		fi ;;
	*) record mm "$mode" "$name" failed "$secs" "exit $st: $(grep -m1 '^# Totals' "$out" | sed 's/^# //'): $(grep -m3 -E '^not ok|FAIL|Error' "$out" | tr '\n' ' ' | cut -c1-240)" ;;
	esac
}

# Test by test, each in every mode one after the other (a run cut short
# by the deadline still compares every mode of what it ran). The full
# plan starts a test only before mm_deadline; the rest are listed as not
# reached.
part_mm() {
	local work name sl tmo cmd mode t huge0
	[ -n "$mm" ] && [ -x "$mm/run_vmtests.sh" ] || { say "no mm selftests in '$mm'"; rc=1; return; }
	# The tests write files into their working directory: a tmpfs
	# directory of symlinks to the install (a copy over 9p takes a minute
	# and more under TCG).
	work=$(tmpdir mm) || { rc=1; return; }
	ln -s "$mm"/* "$work/"
	chmod 755 "$work"
	# The hugetlb tests (and uffd-stress hugetlb: 128 MB) want free huge
	# pages: 160 x 2 MB of the guest's memory, given back afterwards.
	huge0=$(cat /proc/sys/vm/nr_hugepages)
	[ "$plan" = slice ] || echo 160 >/proc/sys/vm/nr_hugepages
	while read -r name sl tmo cmd; do
		case "$name" in '' | '#'*) continue ;; esac
		if [ "$sl" = - ]; then
			# Listed once, in make stress (the slice is a sample).
			[ "$plan" = full ] || continue
			for mode in $modes; do
				record mm "$mode" "$name" skipped 0 "not run: ${cmd#- }"
			done
			continue
		fi
		[ "$plan" = full ] || [ "$sl" = 1 ] || continue
		now t
		if [ "$plan" = full ] && [ "$t" -ge "$mm_deadline" ]; then
			for mode in $modes; do
				record mm "$mode" "$name" skipped 0 "not reached within the run's time (DURATION)"
			done
			continue
		fi
		for mode in $modes; do
			mm_one "$mode" "$work" "$name" "$tmo" "$cmd"
		done
	done <"$top/scripts/test/upstream-mm.list"
	echo "$huge0" >/proc/sys/vm/nr_hugepages
	rm -rf "$work"
}

# -------------------------------------------------------------- stress-ng
# stress-ng's vm-class stressors (and the VM-adjacent ones of other
# classes, mincore, fault, memfd, remap, tlb-shootdown), two instances
# each, sizes small enough that a bogo op completes in seconds in a 2 GB
# KASAN guest under TCG (an op of mmap is a whole mapping written and
# verified). Most relevant first: a run cut short by its time still has
# them. madvise and remap take ~100 s to tear down in the debug kernel.
STRESSORS_FULL="mprotect munmap mremap:--mremap-bytes=4M fault
mmap:--mmap-bytes=4M vm-segv madvise mmapfork mmapmany mmapaddr mmapfixed
pagemove:--pagemove-bytes=4M remap brk stack stackmmap vm:--vm-bytes=16M
vm-rw:--vm-rw-bytes=4M vm-addr vm-splice userfaultfd:--userfaultfd-bytes=4M
mlock mlockmany msync:--msync-bytes=4M memfd:--memfd-bytes=8M,--memfd-fds=32
mincore tlb-shootdown shm-sysv mmaphuge"
STRESSORS_SLICE="mprotect munmap mremap:--mremap-bytes=4M fault"

sng_one() {
	local mode=$1 spec=$2 secs=$3 stressor opts=() t0 out st ops fails detail res
	stressor=${spec%%:*}
	[ "$spec" = "$stressor" ] || IFS=, read -ra opts <<<"${spec#*:}"
	out=$results/logs/stress-ng/$mode/$stressor.log
	mkdir -p "$(dirname "$out")"
	set_mode "$mode"
	t0=$(date +%s)
	# stress-ng's own --timeout bounds the work; the outer timeout its
	# teardown (madvise and remap: ~100 s in the debug kernel).
	(cd "$sng_work" && exec timeout -k 10 $((secs + 240)) stress-ng \
		--"$stressor" 2 --timeout "${secs}s" --verify --metrics-brief \
		--yaml "$out.yaml" "${opts[@]}") >"$out" 2>&1 </dev/null
	st=$?
	local took=$(($(date +%s) - t0))
	ops=$(awk '$1 == "bogo-ops:" { s += $2 } END { print s + 0 }' "$out.yaml" 2>/dev/null || echo 0)
	fails=$(grep -c ' fail: ' "$out")
	detail="exit $st, bogo ops $ops, verify/fail lines $fails"
	[ "$mode" != shadow ] || detail="$detail, $(stats_line)"
	if [ "$st" = 0 ] && [ "$ops" -gt 0 ] && [ "$fails" = 0 ]; then
		res=passed
	elif [ "$st" = 3 ] || [ "$st" = 4 ]; then
		res=skipped
		detail="$detail: $(grep -m1 -E 'skipp|not implemented|no resource|ENOSYS|not supported' "$out" | sed 's/^stress-ng: [a-z]*: *\[[0-9]*\] *//' | cut -c1-160)"
	else
		res=failed
		[ "$st" != 124 ] && [ "$st" != 137 ] || detail="$detail, killed after $((secs + 240))s"
		[ "$ops" -gt 0 ] || detail="$detail, no bogo op: the stressor never ran"
		detail="$detail: $(grep -m2 -E ' fail: |error' "$out" | sed 's/^stress-ng: [a-z]*: *\[[0-9]*\] *//' | tr '\n' ' ' | cut -c1-200)"
	fi
	record stress-ng "$mode" "$stressor" "$res" "$took" "$detail"
}

# Stressor by stressor, each in every mode one after the other, until
# sng_deadline (full plan); the slice runs its list in shadow (and spec).
part_stress_ng() {
	local list smodes nmodes per t spec mode
	command -v stress-ng >/dev/null || { record stress-ng all stress-ng failed 0 "stress-ng not installed on the host (scripts/build/deps.sh)"; return; }
	sng_work=$(tmpdir sng) || { rc=1; return; }
	if [ "$plan" = full ]; then
		list=$STRESSORS_FULL smodes=$modes
	else
		# shadow, and spec if asked for: the modes with an index.
		list=$STRESSORS_SLICE smodes=shadow
		[[ " $modes " != *" spec "* ]] || smodes="shadow spec"
	fi
	# shellcheck disable=SC2086
	set -- $list
	nmodes=$(wc -w <<<"$smodes")
	# A stressor's run costs ~15 s beyond its time (start, verify,
	# teardown): what is left of the share, split evenly, 5 s at least.
	now t
	per=$(((sng_deadline - t) / ($# * nmodes) - 15))
	[ "$per" -ge 5 ] || per=5
	say "stress-ng: $# stressors x $nmodes modes, ${per}s each, until $((sng_deadline - t_start))s"
	for spec in $list; do
		now t
		if [ "$plan" = full ] && [ "$t" -ge "$sng_deadline" ]; then
			for mode in $smodes; do
				record stress-ng "$mode" "${spec%%:*}" skipped 0 "not reached within the run's time (DURATION)"
			done
			continue
		fi
		for mode in $smodes; do
			sng_one "$mode" "$spec" "$per"
		done
	done
	rm -rf "$sng_work"
}

# ---------------------------------------------------------------- trinity
# The vm group as nobody, bounded by operations, in shadow and in spec. No
# fd providers but the test files and memfds: the socket cache (trinity 1.9
# segfaults building it in this guest) and perf/drm/pseudo files are turned
# off.
# The slice gives each mode its 600 operations; the full plan splits its
# share of the time between them.
part_trinity() {
	local m ms=()
	for m in shadow spec; do
		[[ " $modes " == *" $m "* ]] && ms+=("$m")
	done
	[ ${#ms[@]} -gt 0 ] || { say "trinity runs in shadow and spec: neither in --modes"; return; }
	for m in "${ms[@]}"; do
		if [ "$plan" = slice ]; then
			trinity_one "$m" "$trin_ops"
		else
			trinity_one "$m" $((trin_ops / ${#ms[@]}))
		fi
	done
}

trinity_one() {
	local mode=$1 ops=$2 t0 out st work done_ops detail
	command -v trinity >/dev/null || { record trinity "$mode" vm failed 0 "trinity not installed on the host (scripts/build/deps.sh)"; return; }
	out=$results/logs/trinity/$mode/vm.log
	mkdir -p "$(dirname "$out")"
	work=$(tmpdir trinity) || { rc=1; return; }
	chown 65534:65534 "$work"
	set_mode "$mode"
	t0=$(date +%s)
	(cd "$work" && exec timeout -k 10 "$trin_timeout" setpriv --reuid=65534 \
		--regid=65534 --clear-groups trinity -q -g vm -N "$ops" -C 2 \
		-l off --disable-fds=sockets,pipes,perf,epoll,eventfd,pseudo,timerfd,drm) \
		>"$out" 2>&1 </dev/null
	st=$?
	local took=$(($(date +%s) - t0))
	# "Ran N syscalls. Successes: N  Failures: N" at the end; a trinity
	# that died before fuzzing has none (or 0).
	done_ops=$(grep -oE 'Ran [0-9]+ syscalls' "$out" | tail -n 1 | awk '{print $2}')
	detail="exit $st, ${done_ops:-no} syscalls done of $ops, $(stats_line)"
	if [ -z "$done_ops" ] || [ "$done_ops" = 0 ]; then
		record trinity "$mode" vm failed "$took" "not run: trinity died before fuzzing ($detail): $(tail -n 2 "$out" | tr '\n' ' ' | cut -c1-160)"
	elif [ "$st" = 124 ] || [ "$st" = 137 ]; then
		record trinity "$mode" vm failed "$took" "$detail, killed after ${trin_timeout}s"
	elif grep -q 'kernel became tainted' "$out"; then
		record trinity "$mode" vm failed "$took" "$detail, the kernel became tainted: $(grep -m1 'kernel became tainted' "$out")"
	elif [ "$st" != 0 ]; then
		record trinity "$mode" vm failed "$took" "$detail: $(grep -m1 'Bailing main loop' "$out")"
	else
		record trinity "$mode" vm passed "$took" "$detail"
	fi
	rm -rf "$work"
}

# ------------------------------------------------------------- failinject
# One fault-injection run: failure point $1 (failslab|fail_page_alloc) in
# mode $2, scoped to the workload's tasks (make-it-fail, inherited by its
# threads and children), GFP_NOWAIT allocations only (ignore-gfp-wait):
# the index's fills and stores, never the kernel's own sleeping ones.
# Prints the index's nomem count (shadow column) after the run.
fi_one() {
	local point=$1 mode=$2 f=$dbg/$1 out t0 st before after detail secs
	local name=${1}_race
	out=$results/logs/failinject/$mode/$name.log
	mkdir -p "$(dirname "$out")"
	echo 1 >"$f/interval"
	echo "$fi_prob" >"$f/probability"
	echo -1 >"$f/times"
	echo 0 >"$f/space"
	echo 0 >"$f/verbose"
	echo Y >"$f/task-filter"
	echo Y >"$f/ignore-gfp-wait"
	[ ! -e "$f/ignore-gfp-highmem" ] || echo N >"$f/ignore-gfp-highmem"
	[ ! -e "$f/min-order" ] || echo 0 >"$f/min-order"
	# failslab: the maple tree node cache only (the index's nodes; the
	# kernel's own VMA tree allocates them sleeping, which is not failed).
	# Without the filter, the signal queue's GFP_ATOMIC allocations fail
	# too, and a SIGSEGV then arrives without its siginfo (si_code
	# SI_USER), which the race suite rightly counts as wrong, in stock too.
	local scope="task filter, GFP_NOWAIT only"
	if [ "$point" = failslab ]; then
		if echo 1 2>/dev/null >/sys/kernel/slab/maple_node/failslab; then
			echo Y >"$f/cache-filter"
			scope="$scope, maple_node cache only"
		else
			echo N >"$f/cache-filter"
			scope="$scope, every cache (maple_node is merged: no cache filter)"
		fi
	fi
	set_mode "$mode"
	before=$(awk '$1 == "nomem" { print $5 }' "$vms/stats")
	t0=$(date +%s)
	# The project's race suite under injection, in this mode's variants.
	# It loads nothing (the module is loaded); each fixture sets the mode.
	local filter=("${fi_filter[@]//shadow/$mode}")
	(
		cd "$selftests/vmashadow" || exit 1
		# shellcheck disable=SC2016 # for the inner shell
		exec timeout -k 10 900 sh -c 'echo 1 >/proc/self/make-it-fail && exec "$@"' \
			sh ./race_test "${filter[@]}"
	) >"$out" 2>&1 </dev/null
	st=$?
	secs=$(($(date +%s) - t0))
	echo 0 >"$f/probability"
	echo N >"$f/task-filter"
	after=$(awk '$1 == "nomem" { print $5 }' "$vms/stats")
	detail="$point ($scope, ${fi_prob}%), race_test ${filter[*]}: exit $st ($(grep -m1 '^# Totals' "$out" | sed 's/^# //')), index nomem ${before:-?} -> ${after:-?}, $(stats_line)"
	if [ "$st" = 0 ]; then
		record failinject "$mode" "$name" passed "$secs" "$detail"
	else
		record failinject "$mode" "$name" failed "$secs" "$detail: $(grep -m2 -E '^# (FAIL|.*Expected)|not ok' "$out" | tr '\n' ' ' | cut -c1-200)"
	fi
	[ "$mode" != shadow ] || fi_nomem=$((${after:-0} - ${before:-0}))
	return "$st"
}

part_failinject() {
	local point
	[[ " $modes " == *" shadow "* ]] || { say "failinject runs in shadow (and spec): shadow not in --modes"; return; }
	for point in failslab fail_page_alloc; do
		fi_nomem=0
		if [ ! -d "$dbg/$point" ]; then
			record failinject shadow "${point}_race" skipped 0 "no $dbg/$point (CONFIG_${point^^} off)"
			continue
		fi
		# A failure in shadow is compared with the same run in stock,
		# where the module is not on the fault path.
		fi_one "$point" shadow || fi_one "$point" stock || true
		# The run proves something only if the injection reached the
		# index: its nomem counter must have moved. Slab pages are
		# rarely allocated on the index's path (partial slabs serve it),
		# so fail_page_alloc may reach it or not: reported, not required.
		fi_one_nomem "$point"
		[[ " $modes " == *" spec "* ]] || continue
		# spec: the same race tests; under fail_page_alloc the
		# speculative folio allocation (GFP_NOWAIT-like: no direct
		# reclaim) must fail some of the time, and each such fault then
		# take the locked path (race_test checks every access).
		spec_nomem=$(vmstat_of fault_spec_fallback_nomem)
		fi_one "$point" spec || true
		fi_spec_nomem "$point" $(($(vmstat_of fault_spec_fallback_nomem) - spec_nomem))
	done
}

vmstat_of() {
	awk -v k="$1" '$1 == k { print $2; f = 1 } END { if (!f) print 0 }' /proc/vmstat
}

fi_spec_nomem() {
	local name=${1}_spec_nomem n=$2
	if [ "$n" -gt 0 ]; then
		record failinject spec "$name" passed 0 "the speculative path's folio allocation failed $n times (fault_spec_fallback_nomem); each fault fell back to the locked path and was served"
	elif [ "$1" = fail_page_alloc ]; then
		record failinject spec "$name" failed 0 "fail_page_alloc never failed a speculative folio allocation (fault_spec_fallback_nomem unchanged): the injection did not reach the speculative path"
	else
		record failinject spec "$name" skipped 0 "failslab does not fail page allocations: the speculative path's folio allocation was never failed (reported, not required)"
	fi
}

fi_one_nomem() {
	local name=${1}_index_nomem
	if [ "$fi_nomem" -gt 0 ]; then
		record failinject shadow "$name" passed 0 "the index's GFP_NOWAIT allocations failed $fi_nomem times; every fault was still served (race_test checks each access)"
	elif [ "$1" = failslab ]; then
		record failinject shadow "$name" failed 0 "no allocation of the index failed under failslab (nomem unchanged): the injection did not reach the index"
	else
		record failinject shadow "$name" skipped 0 "fail_page_alloc never failed an allocation of the index (nomem unchanged): its nodes came from partial slabs"
	fi
}

# ------------------------------------------------------------------- main
mountpoint -q $dbg || mount -t debugfs none $dbg
echo "vmashadow-stress: $(uname -r), $(nproc) CPUs, plan $plan, ${seconds}s, modes: $modes, parts: $parts" >&2
# The budget. The slice: fixed lists (stress-ng 5 s a stressor, 600
# trinity ops). The full plan: --seconds from the first part on, in the
# order of --parts; stress-ng runs until 35% of it, the mm selftests
# until 85%, trinity gets the last 15% as an operation count (it does
# about trin_rate vm-group syscalls a second here: debug kernel, TCG, two
# children). Fault injection and kmemleak take what they take.
trin_rate=12
now t
if [ "$plan" = slice ]; then
	sng_deadline=$t mm_deadline=$t run_end=$t trin_ops=600
	fi_filter=(-r race.shadow.munmap_vs_faults -r race.shadow.mprotect_vs_faults)
else
	run_end=$((t + seconds))
	sng_deadline=$((t + seconds * 35 / 100))
	mm_deadline=$((t + seconds * 85 / 100))
	trin_ops=$((seconds * 15 * trin_rate / 100))
	[ "$trin_ops" -ge 1000 ] || trin_ops=1000
	fi_filter=(-v shadow)
fi
trin_timeout=$((trin_ops * 3 / trin_rate + 600))
fi_prob=10

kmemleak_baseline
if ! insmod "$ko" mode=3 kernel_faults=1; then
	say "insmod $ko failed"
	rc=1
	exit
fi
for p in $parts; do
	say "part $p"
	case "$p" in
	mm) part_mm ;;
	stress-ng) part_stress_ng ;;
	trinity) part_trinity ;;
	failinject) part_failinject ;;
	esac
done
say "module stats at the end: $(stats_line)"
cp "$vms/stats" "$results/module-stats.txt" 2>/dev/null
if ! rmmod vmashadow; then
	say "final rmmod failed"
	rc=1
fi
kmemleak_check
say "done: $(grep -c '^ok' "$tap") ok, $(grep -c '^not ok' "$tap") not ok"
