#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Tests of scripts/check-vars.sh and of the make targets that run it: a bad
# make variable fails at once (under a second), names the variable and
# what it may be, and nothing is installed or built; good values pass;
# KVM=on fails fast where KVM cannot run a guest. TAP output. Run by
# scripts/test/lint.sh and by make test's host-side tests. Uses a cache of its
# own, never the real one.

set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
check=$top/scripts/check-vars.sh
. "$(dirname "$0")/tap.sh"
cache=$tmp/cache
mkdir -p "$cache"

# A clean environment: none of the variables, no make of an outer run.
run() {
	env -i PATH="$PATH" HOME="${HOME:-/root}" VMASHADOW_CACHE="$cache" "$@" \
		>"$tmp/out" 2>"$tmp/err" </dev/null
}

# bad NAME=VALUE WORDS...: check-vars.sh fails with status 2, naming the
# variable and each of WORDS (part of what it may be).
bad() {
	local assign=$1 name=${1%%=*} w
	shift
	run "$assign" "$check"
	local rc=$?
	if [ "$rc" -ne 2 ]; then
		not_ok "$assign is rejected (exit $rc, want 2)"
		return
	fi
	grep -q "error: $name=" "$tmp/err" || { not_ok "$assign: the error names $name"; return; }
	for w in "$@"; do
		grep -qF -- "$w" "$tmp/err" || { not_ok "$assign: the error says '$w'"; return; }
	done
	ok "$assign is rejected: $(head -n 1 "$tmp/err" | cut -c1-120)"
}

good() {
	run "$@" "$check"
	local rc=$?
	[ "$rc" -eq 0 ] && ok "accepted: $*" || not_ok "accepted: $* (exit $rc)"
}

bad CPUS=abc 1..256
bad CPUS=0 1..256
bad CPUS=257 1..256
bad MEMORY=2 2G 1536M
bad MEMORY=2T 256M
bad MEMORY=128M 256M
bad TIMEOUT=-1 1..604800
bad TIMEOUT=1h 1..604800
bad KVM=yes auto on off
bad FLAVOUR=fast debug perf
bad TESTS=nosuch_test module_test
bad CRASH=yes "0 skips"
bad SLICE=yes "0 skips"
bad DURATION=abc "10m to 24h" "DURATION=30m"
bad DURATION=5m "10m to 24h"
bad DURATION=25h "10m to 24h"
bad DURATION=30x "10m to 24h"
bad DURATION=-1m "10m to 24h"
bad R=0 1..100
bad R=101 1..100
bad SECONDS_PER_RUN=abc 0.01..3600
bad SECONDS_PER_RUN=0.001 0.01..3600
bad ONLY=nosuch churn contended path
bad "ONLY= , " "names nothing"
bad "THREADS=1 x 4" "'x'" 1..1024
bad THREADS=0 1..1024
bad PATH_R=0 1..100
bad PATH_VMAS=70000 0..65536
bad PATH_ADMIT_MS=10001 0..10000
bad VMASHADOW_CACHE=relative/dir "absolute path"
bad KVER_DEB_SHA256=xyz "64 lowercase hex"
bad "KVER_DEB_VERSION=1 2" "Debian version"

# EXTRA_CONFIG: readable fragments of config lines only.
printf 'CONFIG_NUMA=y\nCONIFG_TYPO=y\n' >"$tmp/typo.config"
bad EXTRA_CONFIG=/nonexistent.config "no such readable file"
bad EXTRA_CONFIG="$top/kernel/config/examples/bare-metal.config,$tmp/typo.config" \
	"typo.config:2" "CONIFG_TYPO=y" "not a config fragment line"
good EXTRA_CONFIG="$top/kernel/config/examples/bare-metal.config"
# KSRC: a Linux tree (a fake one here) with the series, never built in place.
mkdir -p "$tmp/notlinux" "$tmp/linux/mm" "$tmp/linux/arch/x86" \
	"$tmp/linux/rust/kernel/mm" "$tmp/linux/rust/kernel/maple_tree"
printf 'VERSION = 7\n' >"$tmp/linux/Makefile"
printf 'config MMU\n\tbool\n' >"$tmp/linux/mm/Kconfig"
bad KSRC=/nonexistent "no such directory"
bad KSRC="$tmp/notlinux" "not a Linux source tree"
bad KSRC="$tmp/linux" "lacks the vmashadow series" "config FAULT_VMA_HOOK" "git -C"
printf 'config FAULT_VMA_HOOK\n\tbool\n' >>"$tmp/linux/mm/Kconfig"
touch "$tmp/linux/rust/kernel/mm/fault_hook.rs" "$tmp/linux/rust/kernel/maple_tree/rcu.rs"
good KSRC="$tmp/linux"
touch "$tmp/linux/.config"
bad KSRC="$tmp/linux" "make mrproper"
rm "$tmp/linux/.config"
bad KDIR="$tmp/notlinux" "not a configured kernel build directory"
bad MODULE=/nonexistent.ko "no such readable .ko file"
bad MODULE="$tmp/linux/Makefile" "no such readable .ko file"
touch "$tmp/vmashadow.ko"
good MODULE="$tmp/vmashadow.ko"

good
good CPUS=4 MEMORY=1536M TIMEOUT=600 KVM=off FLAVOUR=perf CRASH=0 \
	TESTS="module_test race_test"
good R=3 SECONDS_PER_RUN=0.25 ONLY="churn,path" THREADS="1,2 4" PATH_R=1 \
	PATH_VMAS="0 65536" PATH_ADMIT_MS=10
good CPUS= MEMORY= ONLY= THREADS=
good DURATION=30m SLICE=0
good DURATION=600s
good DURATION=2h SLICE=1
good DURATION=45
bad 'MUTANTS=range bogus' bogus range sequence attached
good 'MUTANTS=range pte-recheck'

# A typo in the environment (not on make's command line): named, with the
# variable it is one edit from, or as not ours by its prefix.
for t in "PATH_VMA=1 PATH_VMA" "THREAD=1 THREADS" "SLICES=0 SLICE" "COH_CPU=2 COH_CPU"; do
	read -r assign want <<<"$t"
	run "$assign" "$check"
	rc=$?
	name=${assign%%=*}
	if [ "$rc" -eq 2 ] && grep -q "error: $name (environment)" "$tmp/err" && grep -qF "$want" "$tmp/err"; then
		ok "$assign in the environment is rejected: $(head -n 1 "$tmp/err" | cut -c1-100)"
	else
		not_ok "$assign in the environment is rejected naming $want (exit $rc)"
	fi
done
good TERM=dumb LANG=C.UTF-8 PWD=/ CARGO_HOME=/tmp
# More vCPUs than host CPUs under KVM=on: refused (256 is above this host's).
if [ "$(nproc)" -lt 256 ]; then
	run KVM=on CPUS=256 "$check"
	rc=$?
	[ "$rc" -eq 2 ] && grep -q "error: CPUS='256': with KVM=on at most" "$tmp/err" &&
		ok "KVM=on CPUS=256 is rejected on $(nproc) CPUs" ||
		not_ok "KVM=on CPUS=256 is rejected on $(nproc) CPUs (exit $rc)"
fi

# Several bad variables: each is named.
run CPUS=x R=0 KVM=maybe "$check"
[ $? -eq 2 ] && [ "$(grep -c 'error:' "$tmp/err")" -eq 3 ] &&
	ok "three bad variables: three errors" || not_ok "three bad variables: three errors"

# Through make, as a person types it: fails in under a second, names the
# variable, and installs or builds nothing (no dependencies step, no
# results directory).
for t in "test CPUS=abc" "bench R=0" "kernel FLAVOUR=fast" "vm MEMORY=lots" \
	"deps KVM=yes" "lint TIMEOUT=soon" "bench-compare A=x B=y THREADS=none" \
	"test SECONDS=1" "kernel EXTRA_CONFIG=/nonexistent.config" \
	"kernel-config KSRC=/nonexistent" "kernel-deb FLAVOUR=fast" \
	"bench-host R=0" "stress DURATION=soon" "test SLICE=2"; do
	read -ra args <<<"$t"
	before=$(find "$top/results" 2>/dev/null | wc -l)
	t0=$(date +%s%N)
	run make -s -C "$top" "${args[@]}"
	rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	after=$(find "$top/results" 2>/dev/null | wc -l)
	name=${args[-1]%%=*}
	if [ "$rc" -ne 0 ] && [ "$ms" -lt 1000 ] && grep -q "error: $name" "$tmp/err" &&
		! grep -q 'dependencies\|apt-get\|building' "$tmp/err" && [ "$before" = "$after" ]; then
		ok "make $t fails in ${ms} ms: $(grep -m1 "error: $name" "$tmp/err" | cut -c1-100)"
	else
		not_ok "make $t fails at once naming $name (exit $rc, ${ms} ms)"
	fi
done

# A bench plan that cannot finish inside TIMEOUT: refused before anything
# is built, with its ETA.
t0=$(date +%s%N)
before=$(find "$top/results" 2>/dev/null | wc -l)
run make -s -C "$top" bench TIMEOUT=60 R=8
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
after=$(find "$top/results" 2>/dev/null | wc -l)
if [ "$rc" -ne 0 ] && [ "$ms" -lt 2000 ] && grep -q 'error: the plan cannot finish inside TIMEOUT=60s (ETA' "$tmp/err" &&
	grep -q 'plan: main part, 2 CPUs: .* runs' "$tmp/err" &&
	! grep -q 'dependencies\|apt-get\|building' "$tmp/err" && [ "$before" = "$after" ]; then
	ok "make bench TIMEOUT=60 is refused in ${ms} ms: $(grep -m1 'error:' "$tmp/err" | cut -c1-100)"
else
	not_ok "make bench TIMEOUT=60 is refused at once, with its plan (exit $rc, ${ms} ms)"
fi
# Every variable is checked before the plan is made.
if ! run make -s -C "$top" bench TIMEOUT=600 R=1 ONLY=procs KVM=maybe && grep -q 'error: KVM=' "$tmp/err" && ! grep -q 'plan:' "$tmp/err"; then
	ok "make bench: the variables are checked before the plan"
else
	not_ok "make bench: the variables are checked before the plan"
fi

# make bench-host on a kernel without the hook (this machine's, unless it
# runs the custom kernel), or not as root: refused at once, nothing written.
before=$(find "$top/results" "$top/build" 2>/dev/null | wc -l)
if grep -q ' fault_vma_hook_register$' /proc/kallsyms 2>/dev/null; then
	ok "make bench-host without the hook # SKIP this kernel has it"
elif ! run make -s -C "$top" bench-host ONLY=churn R=1 &&
	grep -q 'error: the running kernel .* has no fault VMA hook' "$tmp/err" &&
	[ "$before" = "$(find "$top/results" "$top/build" 2>/dev/null | wc -l)" ]; then
	ok "make bench-host on a kernel without the hook: $(grep -m1 'error:' "$tmp/err" | cut -c1-100)"
else
	not_ok "make bench-host on a kernel without the hook is refused at once"
fi
nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then
	ok "make bench-host not as root # SKIP needs root and setpriv to become nobody"
else
	# A clone in root's home (mode 700 on a fresh Debian) is out of
	# nobody's reach: then a copy of what make bench-host reads first.
	where=$top
	if ! "${nobody[@]}" test -r "$top/Makefile"; then
		where=$tmp/nobody
		mkdir -p "$where/selftests"
		cp -r "$top/Makefile" "$top/scripts" "$where/"
		cp "$top/selftests/Makefile" "$where/selftests/"
		chmod -R a+rX "$tmp"
	fi
	if ! run "${nobody[@]}" make -s -C "$where" bench-host &&
		grep -q 'error: make bench-host needs root' "$tmp/err"; then
		ok "make bench-host not as root: $(grep -m1 'error:' "$tmp/err" | cut -c1-100)"
	else
		not_ok "make bench-host not as root is refused"
	fi
fi

# KVM=on where KVM cannot run a guest (cached probe says no, or no usable
# /dev/kvm at all): fails before anything is built, and says why.
echo no >"$cache/kvm-probe-$(uname -r)-$(hostname)"
t0=$(date +%s%N)
run KVM=on make -s -C "$top" test
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
if [ "$rc" -ne 0 ] && [ "$ms" -lt 1000 ] && grep -q 'error: KVM=on: .*/dev/kvm' "$tmp/err"; then
	ok "make test KVM=on without a working KVM fails in ${ms} ms: $(grep -m1 'KVM=on' "$tmp/err" | cut -c1-100)"
else
	not_ok "make test KVM=on without a working KVM fails at once (exit $rc, ${ms} ms)"
fi
# ... and KVM=auto (the default) or off is fine there.
good KVM=auto
good KVM=off
# Where /dev/kvm is usable and the probe said yes, KVM=on passes.
if [ -r /dev/kvm ] && [ -w /dev/kvm ] && command -v qemu-system-x86_64 >/dev/null; then
	echo yes >"$cache/kvm-probe-$(uname -r)-$(hostname)"
	good KVM=on
else
	ok "KVM=on with a working KVM # SKIP no usable /dev/kvm here"
fi

echo "1..$n"
exit "$failed"
