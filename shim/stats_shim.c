// SPDX-License-Identifier: GPL-2.0
/*
 * vmashadow per-CPU event counters. The lookup runs on every page fault:
 * this_cpu_add() is one unlocked instruction on the local CPU's own line,
 * with no atomic read-modify-write and no shared cache line. Readers sum
 * over the possible CPUs; a count racing with a reset may survive it.
 */
#include <linux/percpu.h>
#include <linux/cpumask.h>

/* Room for every (mode, event) pair: NR_COUNTERS in rust/stats.rs. */
#define VMASHADOW_NR_COUNTERS 128

static DEFINE_PER_CPU(u64 [VMASHADOW_NR_COUNTERS], vmashadow_counters);

void vmashadow_stat_add(unsigned int i, u64 n);
u64 vmashadow_stat_sum(unsigned int i);
void vmashadow_stat_reset(void);

/* @i < VMASHADOW_NR_COUNTERS (the Rust side indexes by a checked constant). */
void vmashadow_stat_add(unsigned int i, u64 n)
{
	this_cpu_add(vmashadow_counters[i], n);
}

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
