# SPDX-License-Identifier: GPL-2.0
# Common helpers for the vmashadow scripts. Source it, do not run it.
# shellcheck shell=bash
# shellcheck disable=SC2034 # the VMS_* settings are for the scripts sourcing this

set -euo pipefail

VMS_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Everything expensive lives outside the clone, keyed by a hash of its inputs.
VMS_CACHE=${VMASHADOW_CACHE:-/var/cache/vmashadow}

# The pinned kernel source: Debian's linux-source-7.3 from trixie-backports.
KVER_PKG=linux-source-7.3
KVER_DEB_VERSION=${KVER_DEB_VERSION:-7.3.4-1~bpo13+1}
KVER_DEB_SHA256=${KVER_DEB_SHA256:-703e369ddd4cce971452f5a593ee55df3a5c10c83caf0fa0df039633ed181ee3}

# Toolchain: Debian's rustc-web and LLVM 19 (scripts/build/deps.sh installs
# them).
VMS_LLVM=-19
VMS_RUSTC=/usr/bin/rustc
# The kernel's minimum on x86 (scripts/min-tool-version.sh of Linux 7.3.4).
VMS_RUSTC_MIN=1.85.0
VMS_CARGO_HOME=${CARGO_HOME:-$HOME/.cargo}
VMS_BINDGEN=$VMS_CARGO_HOME/bin/bindgen
VMS_BINDGEN_VERSION=0.72.1
VMS_VENV=$VMS_CACHE/venv

# The module's modes, one per line in column order (scripts/modes is their
# one list; vms_modes_numbered prints "N name").
vms_modes_numbered() { awk '!/^#/ && NF == 2 { print $1, $2 }' "$VMS_TOP/scripts/modes"; }
vms_modes() { vms_modes_numbered | awk '{ print $2 }'; }

# make bench's scenarios (ONLY picks some; scripts/guest/guest-bench.sh runs
# them).
VMS_SCENARIOS="contended uncontended kernel-faults latency scale churn page_fault1 page_fault2 page_fault3 pft procs path"

VMS_T0=${VMS_T0:-$(date +%s)}
export VMS_T0

log() {
	local now
	now=$(date +%s)
	printf '[vmashadow %4ds] %s\n' "$((now - VMS_T0))" "$*" >&2
}

die() {
	printf 'vmashadow: error: %s\n' "$*" >&2
	exit 1
}

# Holds an exclusive lock on cache entry @1 until the calling script exits:
# two runs at once (two clones, make test and make bench) must not prepare
# the same tree or build the same kernel together.
cache_lock() {
	mkdir -p "$VMS_CACHE"
	exec 9>"$VMS_CACHE/.lock-$1"
	flock 9
}

# Run a long step, show elapsed time when it ends.
step() {
	local name=$1 t0 rc
	shift
	t0=$(date +%s)
	log "$name ..."
	set +e
	"$@"
	rc=$?
	set -e
	if [ "$rc" -ne 0 ]; then
		log "$name FAILED after $(($(date +%s) - t0))s (exit $rc)"
		return "$rc"
	fi
	log "$name done in $(($(date +%s) - t0))s"
}

# Run a command with its output in a log file, and print the log's last
# line as progress while it runs (the log's tail if it fails).
with_progress() {
	local logfile=$1 pid rc last t0=$SECONDS next=30
	shift
	"$@" >"$logfile" 2>&1 &
	pid=$!
	# Every 30 s the log's last line (never an empty "..." line); ends
	# within a second of the command.
	while kill -0 "$pid" 2>/dev/null; do
		sleep 1
		[ $((SECONDS - t0)) -ge "$next" ] || continue
		next=$((next + 30))
		kill -0 "$pid" 2>/dev/null || break
		last=$(tail -n 1 "$logfile" | tr -d '\r' | sed 's/^[[:space:]]*//' | cut -c1-100)
		log "  ... $((SECONDS - t0))s: ${last:-nothing logged yet in $logfile}"
	done
	set +e
	wait "$pid"
	rc=$?
	set -e
	if [ "$rc" -ne 0 ]; then
		tail -n 40 "$logfile" >&2
		log "see $logfile"
	fi
	return "$rc"
}

# A field of /etc/os-release (ID, VERSION_CODENAME, ...); empty if none.
os_field() {
	sed -n "s/^$1=//p" /etc/os-release 2>/dev/null | tr -d '"' | head -n 1
}

# "URI SUITE" of every enabled deb source, as apt itself parses them
# (sources.list, *.list and deb822 *.sources alike), in their order. Read
# once: it takes seconds.
apt_sources_cache=
apt_sources() {
	if [ -z "$apt_sources_cache" ]; then
		# shellcheck disable=SC2016 # apt's format fields, not shell
		apt_sources_cache=$({ apt-get indextargets --no-release-info \
			--format '$(SITE) $(RELEASE) $(TARGET_OF)' 2>/dev/null || true; } |
			awk '$3 == "deb" && !seen[$1 " " $2]++ { print $1, $2 }')
	fi
	echo "$apt_sources_cache"
}

# The machine's own Debian mirror: the URI its sources use for the release
# itself (never hard-coded).
debian_mirror() {
	local uri c
	c=$(os_field VERSION_CODENAME)
	apt_sources >/dev/null
	uri=$(apt_sources | awk -v s="$c" '$2 == s && $1 !~ /^cdrom:/ && !u { u = $1 } END { print u }')
	[ -n "$uri" ] || die "cannot find the Debian mirror: no source for '$c' in /etc/apt/sources.list or /etc/apt/sources.list.d/ (apt-get indextargets lists none)"
	echo "$uri"
}

# Seconds in duration $1 (make stress's DURATION): a number with s, m or
# h (no unit: minutes), e.g. 90s, 30m, 2h; empty if it is not one.
duration_seconds() {
	[[ "$1" =~ ^([1-9][0-9]{0,5})([smh]?)$ ]] || return 0
	case "${BASH_REMATCH[2]}" in
	s) echo "${BASH_REMATCH[1]}" ;;
	h) echo $((BASH_REMATCH[1] * 3600)) ;;
	*) echo $((BASH_REMATCH[1] * 60)) ;;
	esac
}

# The cached answer of the KVM probe: per host and host kernel.
kvm_probe_file() {
	echo "$VMS_CACHE/kvm-probe-$(uname -r)-$(hostname)"
}

# Does KVM really run a guest here? /dev/kvm may exist and answer ioctls while
# nested guests hang at "Booting from ROM": boot kernel $1 (a bzImage) to its
# first message with a short timeout. The answer is cached per host.
kvm_works() {
	local probe ans=no out
	probe=$(kvm_probe_file)
	if [ ! -f "$probe" ]; then
		mkdir -p "$VMS_CACHE"
		# The console goes to a file, not to a pipe into grep: grep -q
		# quitting early would fail the pipeline (pipefail) just when
		# the kernel did boot. The guest panics (no root) and QEMU exits.
		out=$(mktemp)
		if [ -z "$(kvm_unusable)" ]; then
			timeout -k 5 30 qemu-system-x86_64 -accel kvm -cpu host -m 256 \
				-nographic -no-reboot -kernel "$1" \
				-append "console=ttyS0 panic=-1 root=/dev/nonexistent" \
				</dev/null >"$out" 2>/dev/null || true
			grep -q 'Linux version' "$out" && ans=yes
		fi
		rm -f "$out"
		echo "$ans" >"$probe"
	fi
	[ "$(cat "$probe")" = yes ]
}

# Why KVM cannot run a guest here, as far as is known without booting one
# (or from the cached probe); empty if it may.
kvm_unusable() {
	local probe
	probe=$(kvm_probe_file)
	if [ ! -e /dev/kvm ]; then
		echo "/dev/kvm does not exist (no KVM on this host: the kvm module is not loaded, or the CPU has no usable virtualization)"
	elif [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
		echo "/dev/kvm is not readable and writable by $(id -un) (group kvm?)"
	elif ! command -v qemu-system-x86_64 >/dev/null; then
		echo "qemu-system-x86_64 is not installed (make deps)"
	elif [ "$(cat "$probe" 2>/dev/null)" = no ]; then
		echo "/dev/kvm is there but a guest does not boot under KVM on this host (a boot with -accel kvm printed nothing in 30 s, e.g. broken nested virtualization; cached in $probe, delete it to probe again)"
	fi
}

kernel_make_flags() {
	echo "LLVM=$VMS_LLVM RUSTC=$VMS_RUSTC BINDGEN=$VMS_BINDGEN"
}

# Hash of the toolchain versions that go into a build.
toolchain_id() {
	{
		"$VMS_RUSTC" --version
		"clang$VMS_LLVM" --version | head -n 1
		"$VMS_BINDGEN" --version
	} 2>/dev/null
}

# The series' patches in order: every kernel/patches/*.patch but the cover
# letter (0000-*), which has no diff.
series_patches() {
	local p
	for p in "$VMS_TOP"/kernel/patches/*.patch; do
		[ -e "$p" ] || continue
		case "$(basename "$p")" in 0000-*) continue ;; esac
		echo "$p"
	done
}

# The files the series touches, one per line: both sides of every
# "diff --git a/X b/Y" of its patches (renames give two).
series_files() {
	series_patches | xargs -r sed -n 's|^diff --git a/\([^ ]*\) b/\([^ ]*\)$|\1\n\2|p' | sort -u
}

# The C functions the series adds or changes, one per line: the function
# of each hunk of a C file, and each function a hunk defines (make
# test-kcsan judges KCSAN's reports by them).
series_functions() {
	# shellcheck disable=SC2016 # awk's program: its $0 is awk's
	series_patches | xargs awk '
	/^diff --git / { c = ($3 ~ /\.[ch]$/); next }
	!c { next }
	/^@@ / {
		s = $0; sub(/^@@[^@]*@@ ?/, "", s)
		if (match(s, /[A-Za-z_][A-Za-z0-9_]*\(/)) print substr(s, RSTART, RLENGTH - 1)
		next
	}
	/^\+[A-Za-z_]/ && !/;[ \t]*$/ && !/^\+\+\+/ {
		s = substr($0, 2)
		if (match(s, /[A-Za-z_][A-Za-z0-9_]*\(/)) print substr(s, RSTART, RLENGTH - 1)
	}' | sort -u
}

# The one argument of a script run as SCRIPT perf|debug|kcsan: sets $flavour.
# shellcheck disable=SC2034 # for the calling script
flavour_arg() {
	[ $# -eq 1 ] || die "usage: $0 perf|debug|kcsan"
	case "$1" in
	perf | debug | kcsan) flavour=$1 ;;
	*) die "usage: $0 perf|debug|kcsan" ;;
	esac
}

# Source tree: pristine unpack + patches, keyed by the patch series.
src_key() {
	{
		echo "$KVER_PKG $KVER_DEB_VERSION"
		series_patches | xargs -r cat
	} | sha256sum | cut -c1-16
}

src_dir() {
	echo "$VMS_CACHE/src/$(src_key)/linux"
}

# EXTRA_CONFIG: the user's config fragments (commas or spaces between
# them), merged after the project's own. Prints each as an absolute path,
# one a line, or says which is missing or unreadable and fails. Relative
# paths are taken from the directory make (or the script) runs in.
extra_config_files() {
	local words w
	read -ra words <<<"${EXTRA_CONFIG//,/ }"
	for w in "${words[@]}"; do
		[ -f "$w" ] && [ -r "$w" ] || {
			echo "EXTRA_CONFIG: $w: no such readable file" >&2
			return 1
		}
		realpath -e "$w"
	done
}

# The config fragments of a build of flavour $1, in merge order: the
# project's (common, flavour), then EXTRA_CONFIG's. One a line.
config_fragments() {
	echo "$VMS_TOP/kernel/config/common.config"
	echo "$VMS_TOP/kernel/config/$1.config"
	[ -z "${EXTRA_CONFIG:-}" ] || extra_config_files
}

# Why KSRC ($1) cannot be built against (one line), or nothing if it can:
# a Linux tree with the series applied, never configured in place (its
# builds are out of tree, in the cache, with O=).
ksrc_problem() {
	local d=$1
	if [ ! -d "$d" ]; then
		echo "no such directory"
	elif [ ! -f "$d/Makefile" ] || ! grep -q '^VERSION = ' "$d/Makefile" ||
		[ ! -f "$d/mm/Kconfig" ] || [ ! -d "$d/arch/x86" ]; then
		echo "not a Linux source tree (no top-level Makefile with 'VERSION =', mm/Kconfig and arch/x86/)"
	elif ! grep -qx 'config FAULT_VMA_HOOK' "$d/mm/Kconfig" ||
		[ ! -f "$d/rust/kernel/mm/fault_hook.rs" ] ||
		[ ! -f "$d/rust/kernel/maple_tree/rcu.rs" ]; then
		echo "the tree lacks the vmashadow series (no 'config FAULT_VMA_HOOK' in mm/Kconfig, or no rust/kernel/mm/fault_hook.rs or rust/kernel/maple_tree/rcu.rs): apply it first, e.g. git -C $d am \$(ls $VMS_TOP/kernel/patches/*.patch | grep -v /0000-)"
	elif [ -e "$d/.config" ] || [ -e "$d/include/config" ]; then
		echo "it has been configured or built in place (.config or include/config/ in it), and the kernel refuses out-of-tree (O=) builds of such a tree: run 'make mrproper' in it"
	fi
}

# KSRC, checked, as an absolute path; dies if it cannot be built against.
ksrc_dir() {
	local why
	why=$(ksrc_problem "$KSRC")
	[ -z "$why" ] || die "KSRC=$KSRC: $why"
	realpath -e "$KSRC"
}

# Build directory of one flavour (perf|debug|kcsan), keyed by everything that goes in.
build_key() {
	local flavour=$1 extra=()
	if [ -n "${EXTRA_CONFIG:-}" ]; then
		mapfile -t extra < <(extra_config_files)
	fi
	{
		src_key
		echo "$flavour"
		cat "$VMS_TOP/kernel/config/common.config" \
			"$VMS_TOP/kernel/config/$flavour.config"
		toolchain_id
		# Only when set: a build without it keeps the key it always had.
		if [ ${#extra[@]} -gt 0 ]; then
			echo "EXTRA_CONFIG"
			cat "${extra[@]}"
		fi
	} | sha256sum | cut -c1-16
}

# A build against KSRC is keyed by the tree's path, the flavour and the
# EXTRA_CONFIG files' paths, not their contents: one build directory per
# tree, rebuilt incrementally as the tree or a fragment changes.
ksrc_key() {
	{
		ksrc_dir
		echo "$1"
		[ -z "${EXTRA_CONFIG:-}" ] || extra_config_files
	} | sha256sum | cut -c1-16
}

# The project's builds are FLAVOUR-KEY; those with EXTRA_CONFIG
# extra-FLAVOUR-KEY, those against KSRC ksrc-FLAVOUR-KEY (each kind is
# pruned apart, and ksrc- builds never: see build-kernel.sh).
build_dir() {
	if [ -n "${KSRC:-}" ]; then
		echo "$VMS_CACHE/build/ksrc-$1-$(ksrc_key "$1")"
	elif [ -n "${EXTRA_CONFIG:-}" ]; then
		echo "$VMS_CACHE/build/extra-$1-$(build_key "$1")"
	else
		echo "$VMS_CACHE/build/$1-$(build_key "$1")"
	fi
}

# What make test, stress, bench and bench-coherence build first, a step
# each: the dependencies, the kernel of flavour $1, the modules against it.
# Sets kdir (the kernel's build directory), ko (vmashadow.ko) and crash_ko
# (the crash test's module). build-module.sh's output is read whole: a pipe
# into head let the build die of SIGPIPE.
# shellcheck disable=SC2034 # for the calling script
build_for_vm() {
	local mods
	step "dependencies" "$VMS_TOP/scripts/build/deps.sh"
	kdir=$(step "kernel ($1)" "$VMS_TOP/scripts/build-kernel.sh" "$1")
	mods=$(step "module" "$VMS_TOP/scripts/build/build-module.sh" "$1")
	{ read -r ko; read -r crash_ko; } <<<"$mods"
}

# Builds the bench program (selftests/bench/*.c, its files: bench.h) into
# DIR/vmashadow_bench, for the host (make bench-host) or a guest of the host's
# root filesystem (make bench, make bench-coherence).
build_bench() {
	mkdir -p "$1" &&
		step "bench program" cc -O2 -Wall -Wextra -Werror -pthread \
			-o "$1/vmashadow_bench" "$VMS_TOP"/selftests/bench/*.c -lm
}

# The verdict on a guest run whose results are in $1: fails if the guest did
# not finish (no guest-rc), failed (guest-rc != 0), or its kernel log holds
# a splat (listed in $1/splats.txt). If the guest died before saving dmesg,
# the console has the kernel log.
guest_verdict() {
	local res=$1 rc=0 klog
	if [ ! -f "$res/guest-rc" ]; then
		log "the guest did not finish (crash or timeout): see $res/console.log"
		rc=1
	elif [ "$(cat "$res/guest-rc")" != 0 ]; then
		log "the guest run failed (guest-rc $(cat "$res/guest-rc"))"
		rc=1
	fi
	klog=$res/dmesg.log
	[ -s "$klog" ] || klog=$res/console.log
	if ! "$VMS_TOP/scripts/test/check-splats.sh" "$klog" >"$res/splats.txt"; then
		log "kernel splats in the guest log:"
		cat "$res/splats.txt" >&2
		rc=1
	fi
	return "$rc"
}
