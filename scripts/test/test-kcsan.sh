#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make test-kcsan: the race tests under KCSAN, in the modes that read the
# index without a lock (shadow, and spec with its speculative faults). KCSAN
# excludes KASAN, so this is a third kernel (kernel/config/kcsan.config),
# built on first use like the others; make stress runs it too.
#
# Passes when the guest ran every program and each passed, no KCSAN report
# is the series' or the module's (a racing access made by a C function the
# series adds or changes, or by the module: scripts/test/kcsan-reports.py),
# every race KCSAN counted was printed (its debugfs counters against the
# reports: a counted race nobody could read would pass unseen), and the
# kernel log has no other splat. KCSAN reports in core code are
# listed with both stacks in kcsan.txt, for a human to name, and do not
# fail the run. The module's Rust code is not instrumented (rustc has no
# KCSAN): its races show only where C code races with it.
#
# Results in results/kcsan/latest/ (tap.log, dmesg.log, kcsan.txt,
# summary.txt whose last line is "N passed, N failed, N skipped").
# Environment: CPUS (default 2), MEMORY, TIMEOUT, KVM (scripts/vm.sh).

. "$(dirname "$0")/../lib.sh"

[ $# -eq 0 ] || die "usage: $0 (options come from the environment)"
"$VMS_TOP/scripts/check-vars.sh"

flavour=kcsan
programs=(race_test spec_test)
# The harness's filter: every variant but the modes that lock (the
# fixtures without variants, index and unload, still run).
filter=
for m in $(vms_modes); do
	case "$m" in shadow | spec) ;; *) filter+="-V $m " ;; esac
done
res=$VMS_TOP/results/kcsan/$(date +%Y%m%d-%H%M%S)
latest=$VMS_TOP/results/kcsan/latest

build_for_vm "$flavour"
tests=$(step "selftests" "$VMS_TOP/scripts/build/build-selftests.sh" "$flavour")
mkdir -p "$res"
ln -sfn "$(basename "$res")" "$latest"

series_functions >"$res/series-functions.txt"

t0=$(date +%s)
"$VMS_TOP/scripts/vm.sh" --flavour "$flavour" --timeout "${TIMEOUT:-3600}" \
	--rwdir "$res" --console "$res/console.log" \
	--exec "$VMS_TOP/scripts/guest/guest-kcsan.sh $res $ko $tests '${filter% }' ${programs[*]}" \
	>"$res/vm.log" 2>&1 || true
log "KCSAN boot done in $(($(date +%s) - t0))s"
# KCSAN under TCG sees a race only if the host runs both vCPU threads at
# once (docs/testing.md: its positive control is reported on a quiet host,
# missed on a busy one). The guest's two vCPUs make a load of about 2; more
# than one more than that is other work.
read -r load _ </proc/loadavg
busy=
if awk -v l="$load" -v n="$(nproc)" 'BEGIN { exit !(l > n + 1) }'; then
	busy="the host was busy (1-min load $load on $(nproc) CPUs at the end of the boot): KCSAN misses races then, so a clean result here is weak; run make test-kcsan with nothing else on the host"
	log "WARNING: $busy"
fi

klog=$res/dmesg.log
[ -s "$klog" ] || klog=$res/console.log
kcsan_rc=0
python3 "$VMS_TOP/scripts/test/kcsan-reports.py" --series "$res/series-functions.txt" \
	"$klog" >"$res/kcsan.txt" || kcsan_rc=$?
{
	[ -f "$res/guest-rc" ] && echo "ok 1 KCSAN boot completed" ||
		echo "not ok 1 KCSAN boot completed"
	[ "$(cat "$res/guest-rc" 2>/dev/null)" = 0 ] &&
		echo "ok 2 every race test program passed, the module loaded and unloaded" ||
		echo "not ok 2 every race test program passed, the module loaded and unloaded"
	[ "$kcsan_rc" = 0 ] && echo "ok 3 $(head -n 1 "$res/kcsan.txt")" ||
		echo "not ok 3 $(head -n 1 "$res/kcsan.txt")"
	# KCSAN's reports were judged above; every other splat fails.
	if "$VMS_TOP/scripts/test/check-splats.sh" --allow 'BUG: KCSAN: ' "$klog" >"$res/splats.txt"; then
		echo "ok 4 no other splat in the kernel log"
	else
		echo "not ok 4 no other splat in the kernel log"
	fi
	# KCSAN counts every race it detects; one it counted but never printed
	# could not be judged above.
	counted=$(sed -n 's/^data_races: //p' "$res/kcsan-stats.txt" 2>/dev/null)
	printed=$(sed -n '1s/^\([0-9]*\) KCSAN report.*/\1/p' "$res/kcsan.txt")
	if [ -n "$counted" ] && [ -n "$printed" ] && { [ "$counted" = 0 ] || [ "$printed" -gt 0 ]; }; then
		echo "ok 5 every race KCSAN counted was printed ($counted counted, $printed reports)"
	else
		echo "not ok 5 every race KCSAN counted was printed (${counted:-no counters} counted, ${printed:-?} reports)"
	fi
	echo "1..5"
} >"$res/run-tap.log"
touch "$res/tap.log"
{
	echo "vmashadow make test-kcsan, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "kernel: $flavour $(basename "$(build_dir "$flavour")"), programs: ${programs[*]} $filter"
	echo "git: $(git -C "$VMS_TOP" rev-parse --short HEAD 2>/dev/null || echo unknown)"
	echo "host load: ${load} (1 min, at the end of the boot, $(nproc) CPUs)${busy:+; WARNING: $busy}"
	[ -s "$res/splats.txt" ] && { echo "splats:"; cat "$res/splats.txt"; }
	python3 "$VMS_TOP/scripts/report/summarize.py" "$res/run-tap.log" "$res/tap.log" || true
} >"$res/summary.txt"
cat "$res/kcsan.txt" >&2
log "results in $res"
tail -n 1 "$res/summary.txt"
python3 "$VMS_TOP/scripts/report/summarize.py" "$res/run-tap.log" "$res/tap.log" >/dev/null
