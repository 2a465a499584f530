// SPDX-License-Identifier: GPL-2.0+
/*
 * The maple tree tests of lib/test_maple_tree.c (the kernel's
 * CONFIG_TEST_MAPLE_TREE module, as tools/testing/radix-tree/maple.c runs
 * them in userspace) with a leak check: after rcu_barrier(), every maple
 * node allocated since the start must be freed. Built by
 * scripts/test/test-maple-userland.sh, natively (ASan, UBSan) and for a
 * big-endian target under qemu-user.
 *
 *   maple_leakcheck      all of maple_tree_seed()
 *   maple_leakcheck -r   only check_rcu_free_full_nodes(), the regression
 *                        test of patch 0001: RCU maple_range_64 trees whose
 *                        nodes have 15 and 16 children, destroyed whole and
 *                        by a store that replaces subtrees
 *
 * The harness counts slab objects in nr_allocated and kmalloc()ed memory in
 * kmalloc_nr_allocated; a maple node freed with kfree() (the top node of a
 * destroyed tree) moves one count from the first to the second, so their sum
 * is what must come back to where it was.
 *
 * Prints "maple_tree: N of N tests passed" and "no leaked nodes"; exits 0
 * only if every check passed and nothing leaked (a failed MT_BUG_ON() or
 * MT_WARN_ON() already aborts). A fix that skipped the last child of a node
 * fails here even without ASan: "FAIL: 112713 allocations not freed".
 */
#include "maple-harness.h"
#include "../../../lib/test_maple_tree.c"

extern int kmalloc_nr_allocated;

int main(int argc, char **argv)
{
	int base, now, rcu_only = 0, opt;
	unsigned int run, passed;

	while ((opt = getopt(argc, argv, "r")) != -1) {
		if (opt != 'r') {
			fprintf(stderr, "usage: %s [-r]\n", argv[0]);
			return 2;
		}
		rcu_only = 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	maple_tree_init();
	base = nr_allocated + kmalloc_nr_allocated;
	if (rcu_only) {
		rcu_register_thread();
		check_rcu_free_full_nodes();
		rcu_barrier();
		rcu_unregister_thread();
	} else {
		maple_tree_seed();
		maple_tree_harvest();
	}
	rcu_barrier();

	run = atomic_read(&maple_tree_tests_run);
	passed = atomic_read(&maple_tree_tests_passed);
	now = nr_allocated + kmalloc_nr_allocated;
	printf("maple_tree: %u of %u tests passed\n", passed, run);
	if (now != base) {
		printf("FAIL: %d allocations not freed after rcu_barrier() (nr_allocated %d, kmalloc_nr_allocated %d)\n",
		       now - base, nr_allocated, kmalloc_nr_allocated);
		return 1;
	}
	printf("no leaked nodes (nr_allocated %d, kmalloc_nr_allocated %d)\n",
	       nr_allocated, kmalloc_nr_allocated);
	return !run || run != passed;
}
