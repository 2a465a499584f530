# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Sourced *inside* the guest by the bench scripts: what runs this guest, as
# the guest itself sees it (the host's probe may be stale or wrong).

# The module's modes, one per line in column order (scripts/modes; the
# host's lib.sh has the same function).
vms_modes() { awk '!/^#/ && NF == 2 { print $2 }' "$(dirname "${BASH_SOURCE[0]}")/../modes"; }

# Prints one "accel: X" line (X = KVM, TCG, none for bare metal, or the
# hypervisor's name) and one "accel evidence: ..." line.
guest_accel() {
	local hv model flags accel
	hv=$(dmesg 2>/dev/null | sed -n 's/.*Hypervisor detected: *//p' | head -n 1)
	model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
	flags=$(sed -n 's/^flags[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
	if [ "$hv" = KVM ]; then
		accel=KVM	# KVM's CPUID signature: QEMU with -accel kvm
	elif [[ "$model" == *"QEMU TCG"* ]]; then
		accel=TCG	# QEMU's -cpu max under TCG names itself so
	elif [ -n "$hv" ]; then
		accel=$hv
	elif [[ " $flags " == *" hypervisor "* ]]; then
		# A hypervisor bit but no signature the kernel knows: QEMU under
		# TCG with another CPU model says nothing else.
		accel=TCG
	else
		accel=none
	fi
	echo "accel: $accel"
	echo "accel evidence: dmesg hypervisor '${hv:-none}'; cpu '$model'; hypervisor flag $([[ " $flags " == *" hypervisor "* ]] && echo yes || echo no)"
}
