// SPDX-License-Identifier: GPL-2.0
/*
 * vmashadow maple tree shim: what the Rust side cannot spell. A spinlock
 * needs a lockdep class defined where it is initialized, and binding a tree
 * to a lock as its external lock needs the lock's lockdep map, which
 * bindgen sees only as an opaque blob.
 */
#include <linux/maple_tree.h>
#include <linux/spinlock.h>

void vmashadow_spin_lock_init(spinlock_t *lock);
void vmashadow_mt_init_locked_by(struct maple_tree *mt, unsigned int flags,
				 spinlock_t *lock);

/* One lockdep class for every index's lock. */
void vmashadow_spin_lock_init(spinlock_t *lock)
{
	spin_lock_init(lock);
}

/*
 * Initializes @mt with @flags and @lock as its external lock: the lock can
 * then live away from the root that lockless readers load, and lockdep
 * checks that every write to @mt holds it. Writers must not let the tree
 * drop the lock to allocate (no blocking GFP flags).
 */
void vmashadow_mt_init_locked_by(struct maple_tree *mt, unsigned int flags,
				 spinlock_t *lock)
{
	mt_init_flags(mt, flags | MT_FLAGS_LOCK_EXTERN);
	mt_set_external_lock(mt, lock);
}
