#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Check the make variables (they reach the scripts as environment variables)
# before anything is installed or built: every bad value is named with the
# values it may take, and the exit status is 2. Changes nothing (but for
# the KVM probe's cached answer, below). Run first by make deps (so by
# every target that builds), make bench-compare, scripts/test/test.sh and
# scripts/bench/bench.sh. An empty value means the default.
#
#   scripts/check-vars.sh
#
# A variable on make's command line that nothing reads (a typo such as
# SECONDS=1) is an error too; make passes them in MAKEFLAGS.
#
# KVM=on is checked here as far as it can be without a kernel of this tree:
# /dev/kvm must be there and usable, and a cached probe of this host (see
# kvm_works in scripts/lib.sh) must not have failed; with no cached answer,
# any kernel already in the cache is booted with -accel kvm (up to 30 s).
# scripts/vm.sh probes again with the kernel it boots.

. "$(dirname "$0")/lib.sh"

[ $# -eq 0 ] || die "usage: $0 (checks the environment)"

# The selftests the guest runs (TESTS may pick some): selftests/Makefile.
SELFTESTS=$(sed -n 's/^TEST_GEN_PROGS *:= *//p' "$VMS_TOP/selftests/Makefile")
KNOWN=(A B DIR CPUS MEMORY TIMEOUT KVM FLAVOUR TESTS CRASH SLICE DURATION R
	SECONDS_PER_RUN ONLY THREADS PATH_R PATH_VMAS PATH_ADMIT_MS VMASHADOW_CACHE
	KVER_DEB_VERSION KVER_DEB_SHA256 EXTRA_CONFIG KSRC KDIR MODULE
	COH_CPUS COH_R COH_SECONDS COH_MODES COH_SCENARIOS COH_ACCEL MUTANTS)

errs=()
bad() { errs+=("$1"); }

# Integer $2 of variable $1 in $3..$4, else the error $5.
int_in() {
	local name=$1 v=$2 lo=$3 hi=$4
	[[ "$v" =~ ^(0|[1-9][0-9]{0,8})$ ]] && [ "$v" -ge "$lo" ] && [ "$v" -le "$hi" ] ||
		bad "$name='$v': $5"
}

# Each word of list $2 (spaces or commas) an integer in $3..$4.
list_in() {
	local name=$1 words w
	read -ra words <<<"${2//,/ }"
	[ ${#words[@]} -gt 0 ] || { bad "$name='$2': $5"; return; }
	for w in "${words[@]}"; do
		if ! [[ "$w" =~ ^(0|[1-9][0-9]{0,8})$ ]] || [ "$w" -lt "$3" ] || [ "$w" -gt "$4" ]; then
			bad "$name='$2': '$w' is not allowed: $5"
			return
		fi
	done
}

# Each word of list $2 one of the words of $3.
words_in() {
	local name=$1 words w
	read -ra words <<<"${2//,/ }"
	[ ${#words[@]} -gt 0 ] || { bad "$name='$2': names nothing; $4"; return; }
	for w in "${words[@]}"; do
		[[ " $3 " == *" $w "* ]] || { bad "$name='$2': unknown '$w'; $4"; return; }
	done
}

[ -z "${CPUS:-}" ] || int_in CPUS "$CPUS" 1 256 \
	"the guest's vCPUs, an integer 1..256 (default 2)"
if [ -n "${MEMORY:-}" ]; then
	mib=
	if [[ "$MEMORY" =~ ^([1-9][0-9]{0,6})([MG])$ ]]; then
		mib=${BASH_REMATCH[1]}
		[ "${BASH_REMATCH[2]}" = M ] || mib=$((mib * 1024))
	fi
	[ -n "$mib" ] && [ "$mib" -ge 256 ] && [ "$mib" -le 1048576 ] ||
		bad "MEMORY='$MEMORY': the guest's memory, a size in M or G from 256M to 1024G, e.g. MEMORY=2G or MEMORY=1536M (default 2G)"
fi
[ -z "${TIMEOUT:-}" ] || int_in TIMEOUT "$TIMEOUT" 1 604800 \
	"seconds before a guest is killed, an integer 1..604800 (default 1800; make bench: twice its plan's ETA plus 5 minutes, and refuses a plan that cannot finish inside it)"
case "${KVM:-auto}" in
auto | on | off) ;;
*) bad "KVM='$KVM': one of auto (KVM if it really works, else TCG; the default), on (KVM or fail), off (TCG)" ;;
esac
case "${FLAVOUR:-debug}" in
debug | perf | kcsan) ;;
*) bad "FLAVOUR='$FLAVOUR': the kernel of make kernel, module, selftests and vm: debug (the default), perf or kcsan" ;;
esac
[ -z "${TESTS:-}" ] || words_in TESTS "$TESTS" "$SELFTESTS" \
	"the selftests to run, some of: $SELFTESTS (default all)"
case "${CRASH:-1}" in
0 | 1) ;;
*) bad "CRASH='$CRASH': 1 runs make test's crash boot (the default), 0 skips it" ;;
esac
case "${SLICE:-1}" in
0 | 1) ;;
*) bad "SLICE='$SLICE': 1 runs make test's boot of the upstream suites' slice (mm selftests, stress-ng, trinity; the default), 0 skips it" ;;
esac
if [ -n "${DURATION:-}" ]; then
	secs=$(duration_seconds "$DURATION")
	[ -n "$secs" ] && [ "$secs" -ge 600 ] && [ "$secs" -le 86400 ] ||
		bad "DURATION='$DURATION': how long make stress runs, a number with s, m or h from 10m to 24h, e.g. DURATION=30m or DURATION=2h (default 30m)"
fi
[ -z "${R:-}" ] || int_in R "$R" 1 100 \
	"make bench's measured repetitions, an integer 1..100 (default 8)"
if [ -n "${SECONDS_PER_RUN:-}" ]; then
	[[ "$SECONDS_PER_RUN" =~ ^[0-9]{1,4}(\.[0-9]{1,6})?$ ]] &&
		awk -v s="$SECONDS_PER_RUN" 'BEGIN { exit !(s >= 0.01 && s <= 3600) }' ||
		bad "SECONDS_PER_RUN='$SECONDS_PER_RUN': seconds of one bench run, a number 0.01..3600 (default 0.5)"
fi
[ -z "${ONLY:-}" ] || words_in ONLY "$ONLY" "$VMS_SCENARIOS" \
	"the scenarios of make bench, some of: $VMS_SCENARIOS (default all)"
[ -z "${THREADS:-}" ] || list_in THREADS "$THREADS" 1 1024 \
	"faulting thread counts, integers 1..1024, e.g. THREADS=\"1 2 4\" (default from the vCPUs)"
[ -z "${PATH_R:-}" ] || int_in PATH_R "$PATH_R" 1 100 \
	"the path bench's repetitions, an integer 1..100 (default 3)"
[ -z "${PATH_VMAS:-}" ] || list_in PATH_VMAS "$PATH_VMAS" 0 65536 \
	"the path bench's other-VMA counts, integers 0..65536, e.g. PATH_VMAS=\"1 256 4096 65536\" (default \"1 256 4096\")"
[ -z "${PATH_ADMIT_MS:-}" ] || int_in PATH_ADMIT_MS "$PATH_ADMIT_MS" 0 10000 \
	"the module's admit_ms in the path boot, an integer 0..10000 (default: the module's own, 10)"
# make bench-coherence (scripts/bench/coherence-bench.sh).
[ -z "${COH_CPUS:-}" ] || list_in COH_CPUS "$COH_CPUS" 1 32 \
	"the coherence bench's vCPU counts, one boot each, integers 1..32 (the plugin's limit), e.g. COH_CPUS=\"2 4 8\" (the default)"
[ -z "${COH_R:-}" ] || int_in COH_R "$COH_R" 1 100 \
	"the coherence bench's measured repetitions, an integer 1..100 (default 3)"
if [ -n "${COH_SECONDS:-}" ]; then
	[[ "$COH_SECONDS" =~ ^[0-9]{1,4}(\.[0-9]{1,6})?$ ]] &&
		awk -v s="$COH_SECONDS" 'BEGIN { exit !(s >= 0.01 && s <= 3600) }' ||
		bad "COH_SECONDS='$COH_SECONDS': seconds of one coherence bench run, a number 0.01..3600 (default 0.3)"
fi
if [ -n "${MUTANTS:-}" ]; then
	# The names, as in scripts/test/mutants.py (read without Python:
	# check-vars runs before make deps has installed anything).
	all_mutants=$(sed -n 's/^ *"name": "\([a-z-]*\)",$/\1/p' "$VMS_TOP/scripts/test/mutants.py" | xargs)
	words_in MUTANTS "$MUTANTS" "$all_mutants" \
		"the mutants make mutants builds and tests, some of: $all_mutants (default all)"
fi
all_modes="none $(vms_modes | xargs)"
[ -z "${COH_MODES:-}" ] || words_in COH_MODES "$COH_MODES" "$all_modes" \
	"the coherence bench's modes, some of: $all_modes (default all)"
[ -z "${COH_SCENARIOS:-}" ] || words_in COH_SCENARIOS "$COH_SCENARIOS" "pft page_fault1 contended kernel-faults" \
	"the coherence bench's scenarios, some of: pft page_fault1 contended kernel-faults (default all)"
case "${COH_ACCEL:-multi}" in
multi | single) ;;
*) bad "COH_ACCEL='$COH_ACCEL': the coherence bench's TCG threading: multi (MTTCG, the default) or single (round-robin)" ;;
esac
if [ -n "${EXTRA_CONFIG:-}" ]; then
	read -ra words <<<"${EXTRA_CONFIG//,/ }"
	[ ${#words[@]} -gt 0 ] || bad "EXTRA_CONFIG='$EXTRA_CONFIG': names no file; config fragments to merge after the project's, e.g. EXTRA_CONFIG=kernel/config/examples/bare-metal.config"
	for f in "${words[@]}"; do
		if [ ! -f "$f" ] || [ ! -r "$f" ]; then
			bad "EXTRA_CONFIG='$EXTRA_CONFIG': $f: no such readable file (config fragments, comma-separated; relative to $PWD)"
			break
		fi
		# A fragment holds CONFIG_X=value, "# CONFIG_X is not set",
		# comments and blank lines; anything else is a typo that
		# merge_config.sh would silently drop.
		line=$(grep -nvE '^[[:space:]]*(#.*)?$|^CONFIG_[A-Za-z0-9_]+=.' "$f" | head -n 1 || true)
		if [ -n "$line" ]; then
			bad "EXTRA_CONFIG='$EXTRA_CONFIG': $f:${line%%:*}: '${line#*:}' is not a config fragment line (CONFIG_X=value, '# CONFIG_X is not set', a comment or blank)"
			break
		fi
	done
fi
if [ -n "${KSRC:-}" ]; then
	why=$(ksrc_problem "$KSRC")
	[ -z "$why" ] || bad "KSRC='$KSRC': $why (KSRC is a Linux tree with the vmashadow series applied, to build against instead of the cached Debian source)"
fi
if [ -n "${MODULE:-}" ]; then
	[[ "$MODULE" == *.ko ]] && [ -f "$MODULE" ] && [ -r "$MODULE" ] ||
		bad "MODULE='$MODULE': no such readable .ko file (make bench-host: a vmashadow.ko already built against the running kernel, used instead of building one)"
fi
if [ -n "${KDIR:-}" ]; then
	[ -f "$KDIR/Makefile" ] && [ -f "$KDIR/include/config/kernel.release" ] ||
		bad "KDIR='$KDIR': not a configured kernel build directory (no Makefile and include/config/kernel.release in it); make bench-host builds the module against it (default: /lib/modules/\$(uname -r)/build, or the cached build of the running kernel)"
fi
[ -z "${VMASHADOW_CACHE:-}" ] || [[ "$VMASHADOW_CACHE" == /* ]] ||
	bad "VMASHADOW_CACHE='$VMASHADOW_CACHE': an absolute path (default /var/cache/vmashadow)"
[[ "$KVER_DEB_VERSION" =~ ^[0-9][0-9A-Za-z.+~:-]*$ ]] ||
	bad "KVER_DEB_VERSION='$KVER_DEB_VERSION': a Debian version of $KVER_PKG, e.g. 7.3.4-1~bpo13+1"
[[ "$KVER_DEB_SHA256" =~ ^[0-9a-f]{64}$ ]] ||
	bad "KVER_DEB_SHA256='$KVER_DEB_SHA256': the .deb's SHA-256, 64 lowercase hex digits"

# make's command-line variables: "... -- NAME=value NAME=val\ ue".
if [[ " ${MAKEFLAGS:-} " == *" -- "* ]]; then
	names=$(sed 's/.* -- //; s/\\ /_/g' <<<"$MAKEFLAGS" |
		grep -oE '(^| )[A-Za-z_][A-Za-z0-9_]*=' | tr -d ' =' || true)
	for name in $names; do
		[[ " ${KNOWN[*]} " == *" $name "* ]] ||
			bad "$name: not a variable of this Makefile; known: ${KNOWN[*]} (see make help)"
	done
fi

# The same typo in the environment (PATH_VMA="1 256" make bench) does not
# reach MAKEFLAGS: a name that is not ours but has our prefixes, or is one
# edit from one of our names (both at least 4 long, so that short names
# such as PWD or _ are left alone), is an error too.
near() {	# near A B: A and B differ by one substitution, insertion or deletion
	local a=$1 b=$2 i
	[ "$a" != "$b" ] || return 1
	if [ ${#a} -eq ${#b} ]; then
		local d=0
		for ((i = 0; i < ${#a}; i++)); do
			[ "${a:i:1}" = "${b:i:1}" ] || d=$((d + 1))
		done
		[ "$d" -eq 1 ]
		return
	fi
	[ ${#a} -gt ${#b} ] && { local t=$a; a=$b; b=$t; }
	[ $((${#b} - ${#a})) -eq 1 ] || return 1
	for ((i = 0; i < ${#b}; i++)); do
		[ "${b:0:i}${b:i+1}" = "$a" ] && return 0
	done
	return 1
}
while IFS= read -r name; do
	[[ " ${KNOWN[*]} " == *" $name "* ]] && continue
	case "$name" in
	PATH_* | COH_* | KVER_*)
		bad "$name (environment): not a variable of this Makefile; known: ${KNOWN[*]} (see make help)"
		continue ;;
	esac
	[ ${#name} -ge 4 ] || continue
	for k in "${KNOWN[@]}"; do
		if [ ${#k} -ge 4 ] && near "$name" "$k"; then
			bad "$name (environment): not a variable of this Makefile; did you mean $k? (see make help)"
			break
		fi
	done
done < <(compgen -e)

# KVM runs a vCPU on a host CPU: more vCPUs than the host has only thrash.
if [ "${KVM:-}" = on ] && [ -n "${CPUS:-}" ] && [[ "$CPUS" =~ ^[0-9]+$ ]] &&
	[ "$CPUS" -gt "$(nproc)" ]; then
	bad "CPUS='$CPUS': with KVM=on at most this host's $(nproc) CPUs (under TCG any count 1..256 works, slowly)"
fi

if [ ${#errs[@]} -gt 0 ]; then
	for e in "${errs[@]}"; do
		printf 'vmashadow: error: %s\n' "$e" >&2
	done
	exit 2
fi

if [ "${KVM:-}" = on ]; then
	why=$(kvm_unusable)
	if [ -z "$why" ] && [ ! -f "$(kvm_probe_file)" ]; then
		for built in "$VMS_CACHE"/build/*/.vmashadow-built; do
			[ -f "$built" ] || continue
			bz=$(dirname "$built")/arch/x86/boot/bzImage
			log "KVM=on: probing KVM with $bz (up to 30 s)"
			kvm_works "$bz" || why=$(kvm_unusable)
			break
		done
	fi
	if [ -n "$why" ]; then
		printf 'vmashadow: error: KVM=on: %s; KVM=auto uses TCG when KVM does not work\n' "$why" >&2
		exit 2
	fi
fi
exit 0
