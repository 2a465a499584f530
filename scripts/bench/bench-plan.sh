# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# shellcheck disable=SC2034 # the settings are for the scripts sourcing this
# Sourced by scripts/bench/bench.sh (make bench) and
# scripts/bench/bench-host.sh (make bench-host), after lib.sh: the bench's
# options, read from the environment (checked before by
# scripts/check-vars.sh), and its plan: the runs it will do and how long
# they will take, printed before anything is built.

# What a run costs beyond SECONDS_PER_RUN, and a boot beyond its runs,
# measured with make bench under TCG on the 2-core CI host (2 vCPUs,
# 2026-11-29/30, three runs of 224 runs each): 0.8-1.0 s a run (start-up,
# warm-up, the mode switch, the module's stats; 2.3 s once with another
# guest on the host); a boot 10-20 s beyond its runs (boot to the first run
# 5-15 s, rmmod and dmesg). The path boot (one vCPU, -icount) runs three
# processes per mode and VMA count: the six cases (about 2-3.5 s of wall time),
# then young and split (a 50 ms window each, ~0.6 s); each maps and unmaps
# the K other VMAs again, ~20 s with 65536 (2026-12-06: 14 of 54 such
# triples of PATH_VMAS="1 4096 65536" in 13 minutes). An ETA, not a promise:
# a busy host doubles it, and KVM or bare metal divides it.
VMS_BENCH_RUN_S=0.9
VMS_BENCH_BOOT_S=20
VMS_PATH_PROCESS_S=2.5
VMS_PATH_WINDOW_S=0.6
VMS_PATH_PER_VMA_S=0.0003

# Sets the bench's settings from the environment: reps, secs, main (the
# scenarios of the main boot), main_only (the same, comma-separated),
# run_path (1 if the path bench runs), threads (comma-separated, or - for
# the guest's defaults), path_reps, path_vmas (comma-separated), path_admit.
bench_options() {
	local only s
	local -a olist tlist klist
	reps=${R:-8}
	secs=${SECONDS_PER_RUN:-0.5}
	only=${ONLY:-$VMS_SCENARIOS}
	read -ra olist <<<"${only//,/ }"
	main=() run_path=0
	for s in "${olist[@]}"; do
		if [ "$s" = path ]; then
			run_path=1
		else
			main+=("$s")
		fi
	done
	main_only=$(IFS=,; echo "${main[*]}")
	# Faulting thread counts, space- or comma-separated. Empty: the guest's
	# defaults (see guest-bench.sh).
	threads=${THREADS:-}
	read -ra tlist <<<"${threads//,/ }"
	threads=$(IFS=,; echo "${tlist[*]}")
	threads=${threads:--}
	path_reps=${PATH_R:-3}
	# The path bench's "other VMAs" counts. 65536 is not in the default: under
	# TCG with -icount setting up and tearing down 131073 VMAs costs ~20 s for
	# each of the 54 processes (3 repetitions x 6 modes x 3), 18 minutes in
	# all; PATH_VMAS="1 256 4096 65536" adds it.
	path_vmas=${PATH_VMAS:-1 256 4096}
	# PATH_ADMIT_MS: the module's admit_ms in the path boot (default: the
	# module's own; 0 indexes every VMA at its first miss, the index's worst
	# case for newvma and churn, and a lookup tree as big as mm_mt).
	path_admit=${PATH_ADMIT_MS:-default}
	read -ra klist <<<"${path_vmas//,/ }"
	path_vmas=$(IFS=,; echo "${klist[*]}")
}

# 1234 -> 20m34s
fmt_secs() {
	local s=$1
	if [ "$s" -ge 3600 ]; then
		printf '%dh%02dm%02ds' $((s / 3600)) $((s % 3600 / 60)) $((s % 60))
	elif [ "$s" -ge 60 ]; then
		printf '%dm%02ds' $((s / 60)) $((s % 60))
	else
		printf '%ds' "$s"
	fi
}

# bench_plan VCPUS BOOT_S: logs the plan of the options above on VCPUS
# CPUs (the main boot's vCPUs, or the host's), each part BOOT_S seconds of
# boot overhead (0 on a host), and sets plan_main_s and plan_path_s, the
# ETA of each part in seconds (0 for a part that does not run). The main
# boot's configurations are guest-bench.sh's own (--plan), so the plan is
# the runs the guest will do.
bench_plan() {
	local vcpus=$1 boot=$2 cfgs n runs k nk procs
	plan_main_s=0 plan_path_s=0
	if [ -n "$main_only" ]; then
		mapfile -t cfgs < <("$VMS_TOP/scripts/guest/guest-bench.sh" --plan "$vcpus" \
			"$main_only" "$threads")
		n=${#cfgs[@]}
		[ "$n" -gt 0 ] || die "the bench plan is empty (guest-bench.sh --plan $vcpus $main_only $threads)"
		runs=$(((reps + 1) * n * 5))
		plan_main_s=$(awk -v b="$boot" -v r="$runs" -v s="$secs" -v o="$VMS_BENCH_RUN_S" \
			'BEGIN { printf "%d", b + r * (s + o) + 0.5 }')
		log "plan: main part, $vcpus CPUs: $n configurations x 5 modes x $((reps + 1)) repetitions ($reps + 1 warm-up) = $runs runs of ${secs}s (+${VMS_BENCH_RUN_S}s each${boot:+, +${boot}s boot}): ETA $(fmt_secs "$plan_main_s")"
		# Per scenario: its variants and thread counts.
		printf '%s\n' "${cfgs[@]}" | awk '
			!($1 in n) { order[++k] = $1 }
			{ n[$1]++
			  if (!seen[$1 " v " $2]++) v[$1] = v[$1] " " $2
			  if (!seen[$1 " t " $3]++) t[$1] = t[$1] " " $3 }
			END { for (i = 1; i <= k; i++) { s = order[i]
				printf "  %-14s %2d configurations: variants%s; threads%s\n", s, n[s], v[s], t[s] } }' |
			while IFS= read -r line; do log "$line"; done
	fi
	if [ "$run_path" = 1 ]; then
		nk=0
		for k in ${path_vmas//,/ }; do
			nk=$((nk + 1))
			plan_path_s=$(awk -v e="$plan_path_s" -v n="$((path_reps * 6))" -v k="$k" \
				-v p="$VMS_PATH_PROCESS_S" -v w="$VMS_PATH_WINDOW_S" -v v="$VMS_PATH_PER_VMA_S" \
				'BEGIN { printf "%.1f", e + n * (p + 2 * w + 3 * k * v) }')
		done
		procs=$((path_reps * nk * 6 * 3))
		plan_path_s=$(awk -v e="$plan_path_s" -v b="$boot" 'BEGIN { printf "%d", e + b + 0.5 }')
		log "plan: path part, 1 CPU: $path_reps repetitions x $nk VMA counts (${path_vmas//,/ }) x 6 modes (none + 5) x 3 = $procs processes (the 4 cases, ~${VMS_PATH_PROCESS_S}s; young and split, ~${VMS_PATH_WINDOW_S}s each; + ${VMS_PATH_PER_VMA_S}s per VMA each${boot:+; +${boot}s boot}): ETA $(fmt_secs "$plan_path_s")"
	fi
	log "plan: ETA $(fmt_secs $((plan_main_s + plan_path_s))) in all (SECONDS_PER_RUN, R, ONLY, THREADS, PATH_R and PATH_VMAS change it)"
}
