// SPDX-License-Identifier: GPL-2.0+
/*
 * Regression test for patch 0001 (maple_tree: fix freeing full range_64
 * nodes in RCU mode), built with the kernel's userspace maple tree harness
 * (tools/testing/radix-tree: ASan + UBSan natively, UBSan under qemu-user
 * for a big-endian target) by scripts/test/test-maple-userland.sh. The patch's
 * own test, check_rcu_free_full_nodes() in lib/test_maple_tree.c, runs in
 * maple_leakcheck; this one shows each shape on its own.
 *
 *   mt_init_flags(&tree, MT_FLAGS_USE_RCU);
 *   store one-page ranges with one-page gaps, ascending, until the root
 *   (a maple_range_64 node) has 16 children;
 *   __mt_destroy(&tree); rcu_barrier();
 *
 * Unfixed, mt_destroy_walk(free = false) strips the type bits from the
 * child pointers (mte_dead_leaves()), then mt_clear_meta() takes the 16th
 * child for metadata and zeroes 16 bits of its pointer (the low ones on
 * little-endian, where mt_free_walk() then frees (child & ~0xffff): ASan
 * reports a bad free, and the "slot[15]" line shows the damage). With -c,
 * the second bug: a lower range_64 node with 15 children, whose metadata
 * {end = 14} in slot 15 mt_free_walk() followed as a child (SEGV at 0xe on
 * little-endian, at 0x0e00000000000000 on big-endian).
 *
 *   mt_full_root        RCU, range_64 (the bug)
 *   mt_full_root -c     RCU, range_64, height >= 4 (the second bug)
 *   mt_full_root -a     control: + MT_FLAGS_ALLOC_RANGE
 *   mt_full_root -n     control: not RCU mode
 *
 * Exits 0 and prints "destroyed, no error" when the tree was freed cleanly.
 */
#include "maple-harness.h"

int main(int argc, char **argv)
{
	struct maple_tree tree;
	unsigned int flags = MT_FLAGS_USE_RCU;
	unsigned long i, idx, root_end = 0;
	struct maple_enode *root;
	int opt, child15 = 0;

	while ((opt = getopt(argc, argv, "anc")) != -1) {
		if (opt == 'c')
			child15 = 1;
		if (opt == 'a')
			flags |= MT_FLAGS_ALLOC_RANGE;
		if (opt == 'n')
			flags &= ~MT_FLAGS_USE_RCU;
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	maple_tree_init();
	rcu_register_thread();
	mt_init_flags(&tree, flags);

	for (i = 0; i < 200000; i++) {
		idx = 0x100000 + i * 0x2000;
		if (mtree_store_range(&tree, idx, idx + 0xfff,
				      (void *)(idx | 4), GFP_KERNEL))
			return 1;
		mtree_lock(&tree);
		root = mt_root_locked(&tree);
		if (xa_is_node(root) && !mte_is_leaf(root)) {
			struct maple_node *n = mte_to_node(root);
			enum maple_type t = mte_node_type(root);

			root_end = ma_data_end(n, t, ma_pivots(n, t), ULONG_MAX);
		}
		if (child15 && xa_is_node(root) && mt_height(&tree) >= 4) {
			/* a child of the root with exactly 15 children */
			struct maple_node *n = mte_to_node(root);
			enum maple_type t = mte_node_type(root);
			void __rcu **sl = ma_slots(n, t);
			unsigned long k;

			for (k = 0; k <= root_end; k++) {
				struct maple_enode *c = sl[k];
				struct maple_node *cn = mte_to_node(c);
				enum maple_type ct = mte_node_type(c);

				if (ma_data_end(cn, ct, ma_pivots(cn, ct), ULONG_MAX) == 14)
					break;
			}
			mtree_unlock(&tree);
			if (k <= root_end) {
				printf("height %u, root child %lu has 15 children\n",
				       mt_height(&tree), k);
				break;
			}
			continue;
		}
		mtree_unlock(&tree);
		if (!child15 && root_end == mt_slots[mte_node_type(root)] - 1)
			break;
	}
	printf("flags %#x: %lu stores, root type %d has %lu children\n",
	       flags, i + 1, mte_node_type(root), root_end + 1);
	mt_validate(&tree);

	if (!(flags & MT_FLAGS_USE_RCU)) {
		mtree_lock(&tree);
		__mt_destroy(&tree);
		mtree_unlock(&tree);
	} else {
		struct maple_node *rn = mte_to_node(root);
		void __rcu **sl = ma_slots(rn, mte_node_type(root));
		unsigned long last = mt_slots[mte_node_type(root)] - 1;
		void *before = sl[last];

		rcu_read_lock();	/* keep the callbacks from running */
		mtree_lock(&tree);
		__mt_destroy(&tree);
		mtree_unlock(&tree);
		printf("root slot[%lu]: %p before destroy walk, %p after "
		       "(expected %p: type bits stripped only)\n", last, before,
		       sl[last], mte_to_node(before));
		/* Slot 15 holds a child only if the root is full. */
		if (root_end == last &&
		    (void *)sl[last] != (void *)mte_to_node(before)) {
			printf("FAIL: the destroy walk changed a child pointer\n");
			return 1;
		}
		rcu_read_unlock();
	}
	rcu_barrier();
	printf("destroyed, no error (nr_allocated %d)\n", nr_allocated);
	rcu_unregister_thread();
	return 0;
}
