#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Tests of scripts/test/check-splats.sh: a clean log passes, every kind of splat
# fails and is named, --allow drops only what it names. TAP output.

set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
check=$here/check-splats.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n $1"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n $1"; }

clean() {
	cat <<'EOF'
[    0.000000] Linux version 7.3.4 (root@host) #1 SMP PREEMPT_LAZY
[    0.812345] vmashadow: loaded
[    1.000000] virtme-ng-init: mount devtmpfs
[    2.123456] vmashadow: unloaded
[    2.200000] random: crng init done
EOF
}

# kind|a real line of that kind, as the kernel prints it.
CASES=(
	'BUG|[   12.345678] BUG: unable to handle page fault for address: 00007f0000001000'
	'BUG|[   12.345678] kernel BUG at mm/mmap.c:123!'
	'WARNING|[    3.141592] WARNING: CPU: 1 PID: 212 at rust/vmashadow_mod.rs:30 init_module+0x1c/0x40 [vmashadow]'
	'Oops|[   12.345680] Oops: Oops: 0000 [#1] SMP KASAN PTI'
	'Oops|[   12.345680] Oops: general protection fault, probably for non-canonical address 0xdffffc0000000000'
	'KASAN|[    5.000000] BUG: KASAN: slab-use-after-free in lock_vma_under_rcu+0x1b/0x2f0'
	'UBSAN|[    5.000000] UBSAN: shift-out-of-bounds in mm/vma.c:42:7'
	'lockdep|[    6.000000] WARNING: possible circular locking dependency detected'
	'lockdep|[    6.000000] WARNING: inconsistent lock state'
	'lockdep|[    6.000000] WARNING: suspicious RCU usage'
	'RCU stall|[   60.000000] rcu: INFO: rcu_preempt self-detected stall on CPU'
	'RCU stall|[   60.000000] rcu: INFO: rcu_sched detected stalls on CPUs/tasks:'
	'hung task|[  245.000000] INFO: task fault_test:123 blocked for more than 122 seconds.'
	'soft lockup|[   30.000000] watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [bench:77]'
	'panic|[   40.000000] Kernel panic - not syncing: Fatal exception'
	'list corruption|[   40.000000] list_add corruption. prev->next should be next'
	'refcount|[   40.000000] refcount_t: underflow; use-after-free.'
)

clean >"$tmp/clean.log"
if out=$("$check" "$tmp/clean.log"); then
	ok "clean log passes"
else
	not_ok "clean log passes (got: $out)"
fi

for c in "${CASES[@]}"; do
	kind=${c%%|*}
	line=${c#*|}
	{ clean; echo "$line"; clean; } >"$tmp/splat.log"
	out=$("$check" "$tmp/splat.log")
	rc=$?
	if [ "$rc" -eq 1 ] && grep -qF "SPLAT [$kind]" <<<"$out"; then
		ok "detects $kind: $(echo "${line:15:50}" | tr -d "#")"
	else
		not_ok "detects $kind: $(echo "${line:15:50}" | tr -d "#") (rc=$rc)"
	fi
done

# --allow drops exactly the expected lines, nothing else.
{ clean; echo '[ 9.0] vmashadow_crash: expected oops follows'; echo '[ 9.1] Oops: Oops: 0002 [#1] SMP'; } >"$tmp/allow.log"
if "$check" --allow 'Oops: Oops: 0002' "$tmp/allow.log" >/dev/null; then
	ok "--allow drops the expected oops"
else
	not_ok "--allow drops the expected oops"
fi
{ cat "$tmp/allow.log"; echo '[ 9.2] BUG: KASAN: use-after-free in foo'; } >"$tmp/allow2.log"
if ! "$check" --allow 'Oops: Oops: 0002' "$tmp/allow2.log" >/dev/null; then
	ok "--allow keeps other splats"
else
	not_ok "--allow keeps other splats"
fi

# The upstream test_maple_tree report the series fixes (patch 13) is not
# forgiven any more: it fails like any other lockdep report.
# $1: the caller frame in the backtrace.
rcu_report() {
	cat <<EOF
[   49.972458] =============================
[   49.977919] WARNING: suspicious RCU usage
[   49.979062] 7.3.4 #1 Tainted: G           O
[   49.979633] -----------------------------
[   49.979903] lib/maple_tree.c:721 suspicious rcu_dereference_check() usage!
[   49.995000] locks held by insmod/48: 0, last CPU#1
[   49.986256] CPU: 1 UID: 0 PID: 48 Comm: insmod Tainted: G           O        7.3.4 #1
[   49.988757] Call Trace:
[   49.989444]  <TASK>
[   49.994237]  dump_stack_lvl+0x67/0x90
[   49.996836]  lockdep_rcu_suspicious+0x11b/0x160
[   49.997531]  mas_start+0x351/0x580
[   49.998139]  $1
[   50.010597]  init_module+0x7f/0xda0 [test_maple_tree]
[   50.041349]  </TASK>
EOF
}
{ clean; rcu_report 'mt_validate+0x71/0x2b90'; clean; } >"$tmp/maple.log"
if ! "$check" "$tmp/maple.log" >/dev/null 2>&1; then
	ok "suspicious RCU usage in test_maple_tree's mt_validate() fails"
else
	not_ok "suspicious RCU usage in test_maple_tree's mt_validate() fails"
fi

# virtme-ng-init's own messages (user space) are not kernel splats; a
# kernel warning on the next line still is.
vng_warn='[   41.261400] virtme-ng-init: WARNING: failed to run: "ip" link set dev lo up (error: No such file or directory (os error 2))'
{ clean; echo "$vng_warn"; clean; } >"$tmp/vng.log"
if "$check" "$tmp/vng.log" >/dev/null; then
	ok "virtme-ng-init's own WARNING lines are not kernel splats"
else
	not_ok "virtme-ng-init's own WARNING lines are not kernel splats"
fi
{ clean; echo "$vng_warn"; echo '[   41.3] WARNING: CPU: 0 PID: 1 at mm/vma.c:1 foo+0x1/0x2'; } >"$tmp/vng2.log"
if ! "$check" "$tmp/vng2.log" >/dev/null; then
	ok "a kernel WARNING after virtme-ng-init's still fails"
else
	not_ok "a kernel WARNING after virtme-ng-init's still fails"
fi

if "$check" "$tmp/does-not-exist.log" >/dev/null 2>&1; then
	not_ok "unreadable log is an error"
else
	[ $? -eq 2 ] && ok "unreadable log is an error" || not_ok "unreadable log is an error (wrong rc)"
fi

echo "1..$n"
exit "$failed"
