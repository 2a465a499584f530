// SPDX-License-Identifier: GPL-2.0
/*
 * vmashadow maple tree shim: what the Rust side cannot spell. Binding a
 * tree to another tree's spinlock as its external lock needs the lock's
 * lockdep map, which bindgen sees only as an opaque blob.
 */
#include <linux/maple_tree.h>

void vmashadow_mt_init_locked_by(struct maple_tree *mt,
				 struct maple_tree *owner);

/*
 * Initializes @mt as a plain (not RCU) tree whose lock is @owner's
 * spinlock: lockdep then checks that every access to @mt holds it.
 */
void vmashadow_mt_init_locked_by(struct maple_tree *mt,
				 struct maple_tree *owner)
{
	mt_init_flags(mt, MT_FLAGS_LOCK_EXTERN);
	mt_set_external_lock(mt, &owner->ma_lock);
}
