#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench-host: make bench's benches on this machine itself, which must
# already run a kernel with the series (a test box booted into the package
# of make kernel-deb, see docs/real-hardware.md): no VM, no kernel build.
# Checks the running kernel has the hook, builds vmashadow.ko against it
# and the bench program, runs scripts/guest/guest-bench.sh and guest-path.sh as
# make bench's guests do, and writes the same results files (raw.log,
# path-raw.log, meta.txt, dmesg.log, report.txt, ...) into
# results/bench-host/DATE (results/bench-host/latest), then the same report
# (scripts/report/bench-report.py). Needs root (insmod, debugfs).
#
# Environment: R, SECONDS_PER_RUN, ONLY, THREADS, PATH_R, PATH_VMAS,
# PATH_ADMIT_MS as for make bench (the CPUs are the host's: THREADS and the
# scale scenario follow them); TIMEOUT, if set, must hold the plan's ETA
# (nothing is killed); KDIR, the running kernel's build directory (default:
# /lib/modules/$(uname -r)/build if it has the Rust metadata a Rust module
# needs, else the build in the cache whose kernel is the one running);
# MODULE, a vmashadow.ko already built against the running kernel (on
# another machine, say), used as it is: then nothing is compiled but the
# bench program.

. "$(dirname "$0")/../lib.sh"

[ $# -eq 0 ] || die "usage: $0 (options come from the environment)"
"$VMS_TOP/scripts/check-vars.sh"
. "$VMS_TOP/scripts/bench/bench-plan.sh"
bench_options

[ "$(id -u)" = 0 ] || die "make bench-host needs root (insmod, debugfs, /proc/sys/vm)"
release=$(uname -r)
# The hook: its symbol (KALLSYMS is in common.config), else the config.
if grep -q ' fault_vma_hook_register$' /proc/kallsyms 2>/dev/null; then
	hook="fault_vma_hook_register in /proc/kallsyms"
elif grep -qsx 'CONFIG_FAULT_VMA_HOOK=y' "/boot/config-$release"; then
	hook="CONFIG_FAULT_VMA_HOOK=y in /boot/config-$release"
else
	die "the running kernel $release has no fault VMA hook (no fault_vma_hook_register in /proc/kallsyms, no CONFIG_FAULT_VMA_HOOK=y in /boot/config-$release): boot a kernel with the series first (make kernel-deb; docs/real-hardware.md)"
fi
[ ! -d /sys/module/vmashadow ] ||
	die "vmashadow is loaded: the bench loads it in each mode itself (rmmod vmashadow first)"
# What this target needs, and only that: no QEMU, guest tools or kernel
# source (scripts/build/deps.sh says what is missing, on Debian or not).
"$VMS_TOP/scripts/build/deps.sh" --check --for bench-host ||
	die "make bench-host: the above is missing (on Debian 12/13: scripts/build/deps.sh --for bench-host installs it, as root)"

if [ -z "${MODULE:-}" ]; then
	# The kernel's build directory: the module is Rust, and needs the kernel's
	# Rust metadata (rust/libkernel.rmeta), which Debian's linux-headers
	# packages (bindeb-pkg's too) do not carry.
	uts_of() { sed -n 's/^#define UTS_VERSION "\(.*\)"$/\1/p' "$1/include/generated/utsversion.h" 2>/dev/null; }
	kdir=${KDIR:-}
	if [ -z "$kdir" ]; then
		if [ -f "/lib/modules/$release/build/rust/libkernel.rmeta" ]; then
			kdir=/lib/modules/$release/build
		else
			for d in "$VMS_CACHE"/build/*/; do
				[ -f "$d/.vmashadow-built" ] &&
					[ "$(cat "$d/include/config/kernel.release" 2>/dev/null)" = "$release" ] &&
					[ "$(uts_of "$d")" = "$(uname -v)" ] || continue
				kdir=${d%/}
				break
			done
		fi
		[ -n "$kdir" ] ||
			die "no build directory of the running kernel ($release, $(uname -v)) with Rust metadata: /lib/modules/$release/build has no rust/libkernel.rmeta (Debian's linux-headers packages carry none) and no build in $VMS_CACHE/build/ is this kernel; set KDIR= to the directory it was built in (make -s kernel FLAVOUR=perf prints it; docs/real-hardware.md)"
	fi
	[ "$(cat "$kdir/include/config/kernel.release")" = "$release" ] ||
		die "KDIR=$kdir is a build of $(cat "$kdir/include/config/kernel.release"), not of the running kernel $release"
	[ -f "$kdir/rust/libkernel.rmeta" ] ||
		die "KDIR=$kdir has no Rust metadata (rust/libkernel.rmeta): a Rust module cannot be built against it; use the kernel's own build directory"
	[ "$(uts_of "$kdir")" = "$(uname -v)" ] ||
		log "WARNING: $kdir was built as '$(uts_of "$kdir")', the running kernel is '$(uname -v)' (another build of $release?)"
fi
# The report needs the venv (scipy, pandas); the raw data does not. A lab
# box without PyPI collects it, and another machine makes the report.
report=1
if ! [ -x "$VMS_VENV/bin/python" ]; then
	report=0
	log "no venv for the bench report in $VMS_VENV (make deps makes it): the bench runs and keeps its raw data; make the report on a machine that has one with make bench-report DIR=<this run's results directory>"
fi

# The plan on this host's CPUs, no boot.
bench_plan "$(nproc)" ""
if [ -n "${TIMEOUT:-}" ] && [ $((plan_main_s + plan_path_s)) -gt "$TIMEOUT" ]; then
	die "the plan cannot finish inside TIMEOUT=${TIMEOUT}s (ETA $(fmt_secs $((plan_main_s + plan_path_s)))): ask for less (R, ONLY, THREADS, SECONDS_PER_RUN, PATH_R, PATH_VMAS) or a larger TIMEOUT"
fi

if [ -n "${MODULE:-}" ]; then
	ko=$(realpath "$MODULE")
	magic=$(modinfo -F vermagic "$ko" 2>/dev/null) || die "MODULE=$MODULE: modinfo cannot read it"
	[ "${magic%% *}" = "$release" ] ||
		die "MODULE=$MODULE was built for ${magic%% *}, the running kernel is $release"
	[ "$(modinfo -F name "$ko")" = vmashadow ] || die "MODULE=$MODULE is not vmashadow.ko"
	built="module $ko as given (MODULE=)"
else
	mo=$VMS_TOP/build/module-host-$release
	mkdir -p "$mo"
	# shellcheck disable=SC2046
	step "module (against $kdir)" make -s -C "$kdir" M="$VMS_TOP" MO="$mo" \
		$(kernel_make_flags) modules >&2 || die "module build failed"
	ko=$mo/vmashadow.ko
	[ -f "$ko" ] || die "module build produced no $ko"
	built="module built against $kdir"
fi
benchdir=$VMS_TOP/build/bench-host
build_bench "$benchdir"

res=$VMS_TOP/results/bench-host/$(date +%Y%m%d-%H%M%S)
mkdir -p "$res"
ln -sfn "$(basename "$res")" "$VMS_TOP/results/bench-host/latest"
# A VM's hypervisor, or none; a container apart (a guest of this machine
# sees the host's /.dockerenv and plain systemd-detect-virt says docker).
if command -v systemd-detect-virt >/dev/null; then
	virt=$(systemd-detect-virt --vm 2>/dev/null || true)
	[ "${virt:-none}" != none ] || virt="none (bare metal)"
	ct=$(systemd-detect-virt --container 2>/dev/null || true)
	[ "${ct:-none}" = none ] || virt="$virt, in a $ct container"
	virt="$virt (systemd-detect-virt)"
else
	virt="unknown (no systemd-detect-virt; see accel:)"
fi
{
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "config: the running kernel, $release $(uname -v) ($hook); $built"
	echo "git: $(git -C "$VMS_TOP" describe --always --dirty 2>/dev/null ||
		git -C "$VMS_TOP" describe --always 2>/dev/null || echo unknown)"
	echo "host cpu model: $(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
	echo "host memory: $(awk '/^MemTotal:/ { printf "%d kB (%.1f GiB)", $2, $2 / 1048576 }' /proc/meminfo)"
	echo "host cpus: $(nproc)"
	echo "host accel: $virt"
	echo "bench host: make bench-host on $(hostname)"
	echo "plan eta: main ${plan_main_s}s, path ${plan_path_s}s"
} >"$res/meta.txt"

# The guest scripts write the whole kernel log to dmesg.log: keep what this
# run logged (from a marker on), as a guest's log holds only its boot.
marker="vmashadow bench-host: start $(basename "$res") $$"
trim_dmesg() {
	local f=$1
	if grep -qF "$marker" "$f"; then
		sed -n "/$marker/,\$p" "$f" >"$f.tmp" && mv "$f.tmp" "$f"
	else
		log "WARNING: the kernel log's start marker is gone (ring buffer too small?): $f holds the whole log"
	fi
}
echo "$marker" >/dev/kmsg

fail=0
if [ -n "$main_only" ]; then
	t0=$(date +%s)
	"$VMS_TOP/scripts/guest/guest-bench.sh" "$res" "$ko" "$benchdir/vmashadow_bench" \
		"$reps" "$secs" "$main_only" "$threads" || true # its status is guest-rc
	log "benches done in $(($(date +%s) - t0))s (ETA was $(fmt_secs "$plan_main_s"))"
	trim_dmesg "$res/dmesg.log"
	guest_verdict "$res" || fail=1
fi
if [ "$run_path" = 1 ]; then
	t0=$(date +%s)
	# No -icount here: the PMU counts (perf), or the bench says it did not.
	"$VMS_TOP/scripts/guest/guest-path.sh" "$res" "$ko" "$benchdir/vmashadow_bench" \
		"$path_reps" "$path_vmas" pmu "$path_admit" || true # its status is path/guest-rc
	log "path bench done in $(($(date +%s) - t0))s (ETA was $(fmt_secs "$plan_path_s"))"
	trim_dmesg "$res/path/dmesg.log"
	guest_verdict "$res/path" || fail=1
fi

if [ "$report" = 1 ]; then
	"$VMS_VENV/bin/python" "$VMS_TOP/scripts/report/bench-report.py" "$res" || fail=1
else
	log "no report here (no venv): copy $res to a machine with make deps and run make bench-report DIR=<its copy>"
fi
log "results in $res"
exit "$fail"
