#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot a built kernel with virtme-ng (the host's root filesystem, read-only,
# over 9p) and run a command in it, or open a shell.
#
#   scripts/vm.sh [options] --exec "CMD"
#   scripts/vm.sh [options] --shell
#
# Options:
#   --flavour perf|debug|kcsan  kernel to boot (default debug)
#   --cpus N               vCPUs (default $CPUS or 2)
#   --memory SIZE          guest memory (default $MEMORY or 2G)
#   --timeout SECONDS      kill the guest after this long (default $TIMEOUT or 1800)
#   --rwdir DIR            host directory the guest may write (repeatable)
#   --rodir DIR            host directory the guest sees read-only where the
#                          root filesystem does not show it (virtme-ng mounts
#                          tmpfs over /var/cache, /var/tmp, /var/log: e.g.
#                          --rodir /var/cache/vmashadow; repeatable)
#   --console FILE         also save the console output here, then a last line
#                          "vm.sh accelerator: kvm|tcg|tcg-icount"
#   --append ARGS          extra kernel command line
#   --icount               deterministic: TCG with QEMU's -icount
#                          shift=0,sleep=off, whatever KVM says (it needs
#                          --cpus 1); the guest's clock then advances 1 ns
#                          per instruction executed
#   --print-accel          print the accelerator a boot would use (kvm or
#                          tcg) and exit
#   --qemu-opts OPTS       extra QEMU arguments (vng --qemu-opts), e.g. the
#                          coherence plugin's "-plugin ...": words split at
#                          spaces, so no spaces inside an argument
#
# KVM is used when it really works (KVM=auto, the default, probes it once per
# host and caches the answer), else TCG. KVM=on or KVM=off forces it.

. "$(dirname "$0")/lib.sh"

flavour=debug
cpus=${CPUS:-2}
memory=${MEMORY:-2G}
timeout=${TIMEOUT:-1800}
kvm=${KVM:-auto}
cmd=
shell=0
icount=0
print_accel=0
console=
append=
qemu_opts=
rwdirs=()
rodirs=()

usage() { die "usage: $0 [--flavour perf|debug|kcsan] [--cpus N] [--memory SIZE] [--timeout S] [--rwdir DIR] [--rodir DIR] [--console FILE] [--append ARGS] [--icount] [--qemu-opts OPTS] --exec CMD | --shell | --print-accel"; }

while [ $# -gt 0 ]; do
	case "$1" in
	--flavour) flavour=${2:-}; shift 2 ;;
	--cpus) cpus=${2:-}; shift 2 ;;
	--memory) memory=${2:-}; shift 2 ;;
	--timeout) timeout=${2:-}; shift 2 ;;
	--rwdir) rwdirs+=("${2:-}"); shift 2 ;;
	--rodir) rodirs+=("${2:-}"); shift 2 ;;
	--console) console=${2:-}; shift 2 ;;
	--append) append=${2:-}; shift 2 ;;
	--exec) cmd=${2:-}; shift 2 ;;
	--shell) shell=1; shift ;;
	--icount) icount=1; shift ;;
	--qemu-opts) qemu_opts=${2:-}; shift 2 ;;
	--print-accel) print_accel=1; shift ;;
	*) usage ;;
	esac
done
case "$flavour" in perf | debug | kcsan) ;; *) die "--flavour must be perf, debug or kcsan" ;; esac
[[ "$cpus" =~ ^[1-9][0-9]*$ ]] || die "--cpus must be a positive integer (got '$cpus')"
[[ "$memory" =~ ^[1-9][0-9]*[MG]$ ]] || die "--memory must look like 2G or 1536M (got '$memory')"
[[ "$timeout" =~ ^[1-9][0-9]*$ ]] || die "--timeout must be a positive number of seconds"
case "$kvm" in auto | on | off) ;; *) die "KVM must be auto, on or off (got '$kvm')" ;; esac
if [ "$print_accel" = 1 ]; then
	[ -z "$cmd" ] && [ "$shell" = 0 ] || usage
elif [ "$shell" = 1 ]; then
	[ -z "$cmd" ] || usage
else
	[ -n "$cmd" ] || usage
fi
# Instruction counting runs one vCPU: QEMU's icount does not work with
# multi-threaded TCG.
[ "$icount" = 0 ] || [ "$cpus" = 1 ] || die "--icount needs --cpus 1 (got $cpus)"

kdir=$("$VMS_TOP/scripts/build-kernel.sh" "$flavour")
export PATH=$VMS_VENV/bin:$PATH
command -v vng >/dev/null || die "virtme-ng missing (run scripts/build/deps.sh)"

accel=()
bzimage=$kdir/arch/x86/boot/bzImage
case "$kvm" in
on)
	# vng falls back to TCG by itself when KVM fails: forcing KVM means
	# checking first.
	why=$(kvm_unusable)
	[ -n "$why" ] || kvm_works "$bzimage" || why=$(kvm_unusable)
	[ -z "$why" ] || die "KVM=on: $why; KVM=auto uses TCG when KVM does not work"
	;;
off) accel=(--disable-kvm) ;;
auto) kvm_works "$bzimage" || accel=(--disable-kvm) ;;
esac
if [ "$print_accel" = 1 ]; then
	if [ ${#accel[@]} -eq 0 ]; then echo kvm; else echo tcg; fi
	exit 0
fi
if [ "$icount" = 1 ]; then
	accel=(--disable-kvm --qemu-opts="-icount shift=0,sleep=off")
	accel_name=tcg-icount
	log "accelerator: TCG with -icount shift=0,sleep=off (1 ns per instruction)"
elif [ ${#accel[@]} -eq 0 ]; then
	accel_name=kvm
	log "accelerator: KVM"
else
	accel_name=tcg
	log "accelerator: TCG (no working KVM)"
fi

# no5lvl: with QEMU's -cpu max the guest would use 5-level paging, and a
# KASAN kernel then sometimes reports a wild-memory-access from an early
# interrupt during identify_cpu(), long before anything of ours runs.
args=(--run "$kdir" "${accel[@]}" --cpus "$cpus" --memory "$memory" --force-9p
	--append "root=/dev/root no5lvl kunit.filter_glob=vmashadow* $append")
[ -z "$qemu_opts" ] || args+=(--qemu-opts="$qemu_opts")
for d in "${rwdirs[@]}"; do
	args+=(--rwdir "$d")
done
for d in "${rodirs[@]}"; do
	args+=(--rodir "$d")
done

if [ "$shell" = 1 ]; then
	exec vng "${args[@]}"
fi

# QEMU 10's TCG has been seen to die on an assertion of its own while the
# guest kernel enumerates PCI (msix_table_mmio_write), long before the
# guest runs anything: boot again, once, in that case only.
boot() {
	local out=$1
	set +e
	timeout -k 10 "$timeout" vng -v "${args[@]}" --exec "$cmd" </dev/null 2>&1 |
		tee "$out"
	rc=${PIPESTATUS[0]}
	set -e
}
qemu_died_early() {
	grep -q '^qemu-system-[a-z0-9_]*: .*Assertion' "$1" &&
		! grep -q 'Run .* as init process' "$1"
}

log "booting $flavour kernel: $cpus vCPUs, $memory, timeout ${timeout}s"
out=${console:-$(mktemp)}
boot "$out"
if [ "$rc" -ne 0 ] && qemu_died_early "$out"; then
	log "QEMU died before the guest started ($(grep -m1 '^qemu-system' "$out" | cut -c1-120)): booting again"
	boot "$out"
fi
# The run's own record of what this boot ran on (the guest also says what
# it sees, "accel:", in its results).
if [ -n "$console" ]; then
	echo "vm.sh accelerator: $accel_name" >>"$out"
else
	rm -f "$out"
fi
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
	log "guest timed out after ${timeout}s"
fi
exit "$rc"
