// SPDX-License-Identifier: GPL-2.0
/*
 * vmashadow per-CPU event counters. The lookup runs on every page fault:
 * this_cpu_add() is one unlocked instruction on the local CPU's own line,
 * with no atomic read-modify-write and no shared cache line. Readers sum
 * over the possible CPUs; a count racing with a reset may survive it.
 */
#include <linux/percpu.h>
#include <linux/cpumask.h>

/*
 * Room for every (mode, event) pair: NR_COUNTERS in rust/stats.rs. A power
 * of two: vmashadow_stat_add() masks its index with it.
 */
#define VMASHADOW_NR_COUNTERS 128

static DEFINE_PER_CPU(u64 [VMASHADOW_NR_COUNTERS], vmashadow_counters);

void vmashadow_stat_add(unsigned int i, u64 n);
u64 vmashadow_stat_sum(unsigned int i);
void vmashadow_stat_reset(void);

/*
 * Sound for any @i, so that rust/stats.rs declares it safe to call: the mask
 * keeps the access inside the array. The Rust side's indexes are below
 * VMASHADOW_NR_COUNTERS (checked at build time there), so the mask changes
 * none of them. It is one AND on the fault path, paid so that calling the
 * counters needs no unsafe block; on x86-64 it also zero-extends @i, which
 * a plain move did before, so the function is no longer.
 */
void vmashadow_stat_add(unsigned int i, u64 n)
{
	BUILD_BUG_ON_NOT_POWER_OF_2(VMASHADOW_NR_COUNTERS);
	this_cpu_add(vmashadow_counters[i & (VMASHADOW_NR_COUNTERS - 1)], n);
}

/* Sound for any @i: one out of range is a bug of the caller's, and sums to 0. */
u64 vmashadow_stat_sum(unsigned int i)
{
	u64 sum = 0;
	int cpu;

	if (WARN_ON_ONCE(i >= VMASHADOW_NR_COUNTERS))
		return 0;
	for_each_possible_cpu(cpu)
		sum += per_cpu(vmashadow_counters[i], cpu);
	return sum;
}

void vmashadow_stat_reset(void)
{
	int cpu;

	for_each_possible_cpu(cpu)
		memset(per_cpu_ptr(&vmashadow_counters, cpu), 0,
		       sizeof(vmashadow_counters));
}
