#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench-host-test: does make bench-host produce a full report on a
# machine booted into the custom kernel? A guest of this machine stands in
# for that test box: it boots the kernel (FLAVOUR, default debug) with the
# host's root filesystem, and runs a small make bench-host (churn and path,
# two repetitions) with the module built here first (MODULE=: compiling
# it in a TCG guest over 9p takes most of an hour). Then checks what a user
# of the results reads: report.txt with the churn and path tables,
# runs.csv, meta.txt with the git, CPU, memory, accelerator and bench-host
# lines, and the guest's own verdicts. Prints TAP, exits 1 on a failure.
# 11 minutes under TCG on the idle 2-core host, ~40 beside other guests
# (the guest gets 90), most of it Python importing scipy and pandas for
# the report; the plots are left out (VMASHADOW_PLOTS=0), which matplotlib
# would take most of another hour to draw under TCG.

. "$(dirname "$0")/../lib.sh"

[ $# -eq 0 ] || die "usage: $0 (FLAVOUR=perf|debug, default debug)"
flavour=${FLAVOUR:-debug}
kdir=$("$VMS_TOP/scripts/build-kernel.sh" "$flavour") || die "no $flavour kernel"
release=$(cat "$kdir/include/config/kernel.release")
mo=$VMS_TOP/build/module-host-$release
mkdir -p "$mo" "$VMS_TOP/results/bench-host"
# shellcheck disable=SC2046
step "module (against $kdir)" make -s -C "$kdir" M="$VMS_TOP" MO="$mo" \
	$(kernel_make_flags) modules >&2 || die "module build failed"

before=$(readlink "$VMS_TOP/results/bench-host/latest" 2>/dev/null || true)
out=$VMS_TOP/build/bench-host-test.log
t0=$(date +%s)
log "booting the $flavour kernel as the test box: make bench-host ONLY='churn path' R=2 ..."
"$VMS_TOP/scripts/vm.sh" --flavour "$flavour" --timeout 5400 \
	--rwdir "$VMS_TOP/results" --rwdir "$VMS_TOP/build" --rodir "$VMS_CACHE" \
	--exec "cd $VMS_TOP && VMASHADOW_PLOTS=0 MODULE=$mo/vmashadow.ko make bench-host ONLY='churn path' R=2 SECONDS_PER_RUN=0.2 PATH_R=1 PATH_VMAS=1; echo \"bench-host exit: \$?\"" \
	>"$out" 2>&1 || true
log "guest done in $(($(date +%s) - t0))s (its output: $out)"

n=0 failed=0
check() {
	local what=$1
	shift
	n=$((n + 1))
	if "$@"; then
		echo "ok $n $what"
	else
		echo "not ok $n $what"
		failed=1
	fi
}
after=$(readlink "$VMS_TOP/results/bench-host/latest" 2>/dev/null || true)
res=$VMS_TOP/results/bench-host/$after
echo "TAP version 13"
echo "1..9"
# The guest's console ends its lines with CR LF.
# shellcheck disable=SC2317 # called through check()
exited_0() { tr -d '\r' <"$out" | grep -qx 'bench-host exit: 0'; }
check "make bench-host exited 0 in the guest" exited_0
check "a new results directory ($after)" test -n "$after" -a "$after" != "$before" -a -d "$res"
check "report.txt has the churn table" grep -q '^churn' "$res/report.txt"
check "report.txt has the path table" grep -q '^case=user ' "$res/report.txt"
# shellcheck disable=SC2317 # called through check()
every_mode() {
	local m
	for m in $(vms_modes); do
		grep -q ",$m," "$res/runs.csv" || return 1
	done
}
# shellcheck disable=SC2317 # called through check()
meta_complete() {
	local k
	for k in git "host cpu model" "host memory" "host accel" "bench host"; do
		grep -q "^$k: ." "$res/meta.txt" || return 1
	done
}
check "runs.csv has runs of every mode" every_mode
check "meta.txt names the commit, CPU, memory, accelerator and bench host" meta_complete
check "meta.txt says which module ran" grep -q "^config: .*MODULE=" "$res/meta.txt"
check "the main part's guest verdict is 0" grep -qx 0 "$res/guest-rc"
check "the path part's guest verdict is 0" grep -qx 0 "$res/path/guest-rc"
exit "$failed"
