#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the coherence plugin and the guest programs, boot a guest under
# QEMU TCG with the plugin, run the programs and check the plugin's counts
# against the answers the programs know. One TAP line per check; exits
# non-zero if any fails.
#
#   tools/coherence/check.sh [options]
#
# Options:
#   --kernel FILE    bzImage to boot (default: the newest of the project's
#                    builds in $VMASHADOW_CACHE/build/, else Debian's
#                    linux-image, fetched once with apt-get download)
#   --map FILE       its System.map (default: the build's, if any)
#   --vng            boot with virtme-ng (vng --qemu-opts), as scripts/vm.sh
#                    does, instead of a bare initramfs; needs the project's
#                    kernel build directory (--kernel inside one)
#   --accel LIST     TCG threading, comma-separated: multi (MTTCG, a host
#                    thread per vCPU) and/or single (round-robin) (default multi)
#   --n N            increments per thread, free-running tests (default 200000)
#   --pp-n N         increments per thread, turn-taking tests (default 20000)
#   --tests LIST     comma-separated (default all): single shared separate
#                    false pp-separate pp-false
#   --out DIR        keep consoles and reports here (default: a new
#                    directory under $COHERENCE_CACHE/runs)
#   --timeout S      per boot (default 900)
#   --cache LINES    the plugin's cache= (a vCPU's private cache in lines;
#                    default the plugin's, 16384; 0: unlimited)
#   --build-only     build the plugin and the guest programs, print the
#                    plugin's path, boot nothing
#
# Environment: COHERENCE_CACHE (default $VMASHADOW_CACHE/coherence, i.e.
# /var/cache/vmashadow/coherence): cargo's target directory, the guest
# binaries, the Debian kernel and the runs. Qemu-user cannot be used:
# Debian's is a static binary, built without plugin support.

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
vms_cache=${VMASHADOW_CACHE:-/var/cache/vmashadow}
cache=${COHERENCE_CACHE:-$vms_cache/coherence}

die() {
	printf 'coherence check: error: %s\n' "$*" >&2
	exit 2
}
log() { printf '# %s\n' "$*"; }

kernel=
map=
vng=0
accels=multi
n=200000
ppn=20000
tests=all
out=
timeout=900
build_only=0
plugin_cache=
usage() { die "usage: $0 [--build-only] [--kernel BZIMAGE] [--map SYSTEM.MAP] [--vng] [--accel multi,single] [--n N] [--pp-n N] [--tests LIST] [--out DIR] [--timeout S] [--cache LINES]"; }
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kernel=${2:-}; shift 2 || usage ;;
	--map) map=${2:-}; shift 2 || usage ;;
	--vng) vng=1; shift ;;
	--build-only) build_only=1; shift ;;
	--accel) accels=${2:-}; shift 2 || usage ;;
	--n) n=${2:-}; shift 2 || usage ;;
	--pp-n) ppn=${2:-}; shift 2 || usage ;;
	--tests) tests=${2:-}; shift 2 || usage ;;
	--out) out=${2:-}; shift 2 || usage ;;
	--timeout) timeout=${2:-}; shift 2 || usage ;;
	--cache) plugin_cache=${2:-}; shift 2 || usage ;;
	-h | --help) sed -n '3,/^$/{/^$/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	*) usage ;;
	esac
done
for v in n ppn timeout; do
	[[ "${!v}" =~ ^[1-9][0-9]{0,8}$ ]] || die "--${v/ppn/pp-n} must be a positive integer (got '${!v}')"
done
IFS=, read -ra accel_list <<<"$accels"
[ ${#accel_list[@]} -gt 0 ] || die "--accel: give multi, single or multi,single"
for a in "${accel_list[@]}"; do
	case "$a" in multi | single) ;; *) die "--accel: '$a' is neither multi nor single" ;; esac
done
all_tests=(single shared separate false pp-separate pp-false)
if [ "$tests" = all ]; then
	test_list=("${all_tests[@]}")
else
	IFS=, read -ra test_list <<<"$tests"
	for t in "${test_list[@]}"; do
		[[ " ${all_tests[*]} " == *" $t "* ]] || die "--tests: unknown test '$t' (known: ${all_tests[*]})"
	done
fi
[ -z "$plugin_cache" ] || [[ "$plugin_cache" =~ ^(0|[1-9][0-9]{0,9})$ ]] && [ "${plugin_cache:-0}" -le 1073741824 ] ||
	die "--cache must be a number of lines, 0 (unlimited) to 1073741824 (got '$plugin_cache')"
[ -z "$kernel" ] || [ -f "$kernel" ] || die "--kernel $kernel: no such file"
[ -z "$map" ] || [ -f "$map" ] || die "--map $map: no such file"

qemu=$(command -v qemu-system-x86_64) || die "qemu-system-x86_64 not installed (make deps)"
# Debian's cargo and rustc (cargo-web, rustc-web: what make deps installs and
# the project builds with) when present, else whatever cargo is on PATH.
if [ -x /usr/bin/cargo ] && [ -x /usr/bin/rustc ]; then
	cargo=(env RUSTC=/usr/bin/rustc /usr/bin/cargo)
else
	command -v cargo >/dev/null || die "cargo not found (make deps)"
	cargo=(cargo)
fi
command -v gcc >/dev/null || die "gcc not found"
mkdir -p "$cache" || die "cannot create $cache (set COHERENCE_CACHE)"

# The plugin: cargo's own cache keys the build.
log "building the plugin (cargo, target directory $cache/target)"
CARGO_TARGET_DIR=$cache/target COHERENCE_QEMU=$qemu \
	"${cargo[@]}" build --release --locked --quiet --manifest-path "$here/plugin/Cargo.toml" >&2 ||
	die "the plugin does not build"
plugin=$cache/target/release/libcoherence.so

guest=$cache/guest
mkdir -p "$guest"
for p in coh cohctl; do
	gcc -O2 -pthread -static -Wall -Wextra -Werror -o "$guest/$p" "$here/guest/$p.c" ||
		die "the guest program $p does not build (gcc -static needs libc6-dev)"
done

if [ "$build_only" = 1 ]; then
	log "guest programs in $guest"
	echo "$plugin"
	exit 0
fi

# The kernel.
if [ -z "$kernel" ]; then
	# The newest build (perf or debug) of the project's.
	kernel=$(find "$vms_cache/build" -maxdepth 5 \( -path '*/build/perf-*/arch/x86/boot/bzImage' \
		-o -path '*/build/debug-*/arch/x86/boot/bzImage' \) -printf '%T@ %p\n' 2>/dev/null |
		sort -rn | head -n 1 | cut -d' ' -f2-)
	if [ -z "$kernel" ] && [ "$vng" = 0 ]; then
		dl=$cache/debian-kernel
		if [ ! -f "$dl/vmlinuz" ]; then
			pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
				awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
			[ -n "$pkg" ] || die "no project kernel built and apt knows no linux-image-amd64: give --kernel"
			log "no project kernel built: fetching Debian's $pkg (apt-get download)"
			rm -rf "$dl.tmp" && mkdir -p "$dl.tmp"
			(cd "$dl.tmp" && apt-get download -q "$pkg" >&2) || die "apt-get download $pkg failed"
			dpkg-deb -x "$dl.tmp"/*.deb "$dl.tmp/x"
			mkdir -p "$dl"
			cp "$dl.tmp"/x/boot/vmlinuz-* "$dl/vmlinuz"
			rm -rf "$dl.tmp"
		fi
		# Debian's own System.map is a placeholder (the real one is in
		# the -dbg package): kernel counts stay unattributed.
		kernel=$dl/vmlinuz
	fi
	[ -n "$kernel" ] || die "--vng needs the project's kernel (make kernel) or --kernel inside a build directory"
fi
kdir=
case "$kernel" in */arch/x86/boot/bzImage) kdir=${kernel%/arch/x86/boot/bzImage} ;; esac
if [ -z "$map" ] && [ -n "$kdir" ] && [ -f "$kdir/System.map" ]; then
	map=$kdir/System.map
fi
[ "$vng" = 0 ] || [ -n "$kdir" ] || die "--vng boots a kernel build directory: --kernel DIR/arch/x86/boot/bzImage"
log "kernel $kernel${map:+, symbols from $map}"

if [ -z "$out" ]; then
	mkdir -p "$cache/runs"
	out=$(mktemp -d "$cache/runs/$(date +%Y%m%d-%H%M%S)-XXXX")
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
log "results in $out"

# The initramfs: the test program is /init.
if [ "$vng" = 0 ]; then
	command -v cpio >/dev/null || die "cpio not found"
	rd=$(mktemp -d)
	cp "$guest/coh" "$rd/init"
	(cd "$rd" && echo init | cpio -o -H newc --quiet) >"$out/init.cpio"
	rm -rf "$rd"
fi

# One boot per accel runs every test; each window gets its own report
# (each=on: report.csv.K for the K-th window), found again by its tag.
boot() { # accel dir
	local accel=$1 dir=$2 popts rc=0 tl
	tl=$(
		IFS=,
		echo "${test_list[*]}"
	)
	mkdir -p "$dir"
	popts="$plugin,report=$dir/report.csv,each=on${map:+,map=$map}${plugin_cache:+,cache=$plugin_cache}"
	if [ "$vng" = 1 ]; then
		# vng runs virtme-run from its venv, as scripts/vm.sh does.
		local venv=$vms_cache/venv
		[ -x "$venv/bin/vng" ] || die "virtme-ng not in $venv (make deps)"
		PATH=$venv/bin:$PATH timeout -k 10 "$timeout" vng -v --run "$kdir" --disable-kvm --cpus 2 \
			--memory 1G --force-9p --rodir "$guest" \
			--append "root=/dev/root nokaslr no5lvl" \
			--qemu-opts="-accel tcg,thread=$accel -plugin $popts" \
			--exec "$guest/coh $tl $n $ppn" </dev/null >"$dir/console.txt" 2>&1 || rc=$?
	else
		timeout -k 10 "$timeout" "$qemu" -accel "tcg,thread=$accel" -smp 2 -m 1G \
			-nographic -no-reboot -nodefaults -serial stdio \
			-kernel "$kernel" -initrd "$out/init.cpio" \
			-append "console=ttyS0 nokaslr no5lvl quiet panic=-1 -- coh $tl $n $ppn" \
			-plugin "$popts" </dev/null >"$dir/console.txt" 2>&1 || rc=$?
	fi
	return "$rc"
}

# The total,all,user row's field $2 of report $1.
user_count() {
	awk -F, -v f="$2" '
		/^#vcpu,/ { for (i = 1; i <= NF; i++) col[$i] = i }
		$1 == "total" && $3 == "user" { print $(col[f]); found = 1 }
		END { if (!found) print "none" }' "$1"
}

num=0
failed=0
check() { # ok? description
	num=$((num + 1))
	if [ "$1" = 1 ]; then
		echo "ok $num - $2"
	else
		echo "not ok $num - $2"
		failed=$((failed + 1))
	fi
}

for accel in "${accel_list[@]}"; do
	dir=$out/$accel
	t0=$SECONDS
	rc=0
	log "$accel: booting, tests ${test_list[*]} (n=$n, pp-n=$ppn)"
	boot "$accel" "$dir" || rc=$?
	log "$accel: guest exited ($rc) after $((SECONDS - t0))s; console in $dir/console.txt"
	# A plugin (or QEMU's plugin code) that corrupts the guest shows here.
	splat=$(tr -d '\r' <"$dir/console.txt" | grep -a -m1 -E \
		'BUG:|Oops|WARNING:|Kernel panic|general protection|test failed|segfault' || true)
	check "$([ -z "$splat" ] && grep -aq '^coh: end rc=0' <(tr -d '\r' <"$dir/console.txt") && echo 1)" \
		"$accel: the guest ran every test and its kernel log is clean${splat:+ (${splat:0:100})}"
	w=$(grep -h -m1 -E '^meta,(warning|note),' "$dir"/report.csv.* 2>/dev/null | head -n 1 | cut -d, -f2- || true)
	[ -z "$w" ] || log "$accel: the plugin's ${w%%,*}: ${w#*,}"
	for t in "${test_list[@]}"; do
		line=$(tr -d '\r' <"$dir/console.txt" | grep -a -m1 "^coh: test=$t " || true)
		want_tag=$(sed -n 's/.* tag=\([0-9]*\) .*/\1/p' <<<"$line")
		rep=
		for r in "$dir"/report.csv.*; do
			[ -f "$r" ] || continue
			if [ "$(awk -F, '$1 == "meta" && $2 == "tags" { print $3 }' "$r")" = "$want_tag" ]; then
				[ -z "$rep" ] || rep=twice
				[ "$rep" = twice ] || rep=$r
			fi
		done
		if [ -z "$line" ] || [ -z "$rep" ] || [ "$rep" = twice ]; then
			check 0 "$accel/$t: the guest ran it and the plugin wrote one window tagged ${want_tag:-?} (${rep:-no report})"
			continue
		fi
		extra=$(grep -o 'alternations=[0-9]*' <<<"$line" || true)
		tn=$(grep -o ' n=[0-9]*' <<<"$line" | cut -d= -f2)
		while read -r kv; do
			f=${kv%%=*}
			f=${f#expect.}
			want=${kv#*=}
			tol=$(grep -o "tol\.$f=[0-9]*" <<<"$line" | cut -d= -f2)
			got=$(user_count "$rep" "$f")
			if [[ "$got" =~ ^[0-9]+$ ]] && [ $((got - want)) -le "$tol" ] &&
				[ $((want - got)) -le "$tol" ]; then
				ok=1
			else
				ok=0
			fi
			check "$ok" "$accel/$t n=$tn: user $f $got, expected $want +-$tol${extra:+ ($extra)}"
		done < <(grep -o 'expect\.[a-z]*=[0-9-]*' <<<"$line")
	done
done
echo "1..$num"
[ "$failed" = 0 ] || {
	log "$failed of $num checks failed"
	exit 1
}
