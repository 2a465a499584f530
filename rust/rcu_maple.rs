// SPDX-License-Identifier: GPL-2.0

//! An RCU-mode maple tree of borrowed pointers.
//!
//! [`kernel::maple_tree::MapleTree`] owns its values and reads them under its spinlock. The
//! shadow index needs the other mode of the same C tree: readers walk it under
//! `rcu_read_lock()` alone, writers take the tree's spinlock and never sleep (`GFP_NOWAIT`),
//! and nodes replaced or destroyed are freed after a grace period (`MT_FLAGS_USE_RCU`), so a
//! reader never walks freed nodes. The values are raw pointers that the tree neither owns nor
//! dereferences.
//!
//! Beside it, under the same lock, a plain tree maps each stored pointer to a number (the
//! *owner record*): writers use it to find a pointer's range without walking every range.
//!
//! C header: [`include/linux/maple_tree.h`](srctree/include/linux/maple_tree.h)

use core::{
    ffi::{c_uint, c_void},
    marker::PhantomData,
    ptr::NonNull,
};
use kernel::{bindings, error::to_result, prelude::*, types::Opaque};

extern "C" {
    // shim/maple_shim.c
    fn vmashadow_spin_lock_init(lock: *mut bindings::spinlock_t);
    fn vmashadow_mt_init_locked_by(
        mt: *mut bindings::maple_tree,
        flags: c_uint,
        lock: *mut bindings::spinlock_t,
    );
}

/// What writers allocate with: never sleeping (they hold a spinlock, and fill runs in the
/// fault path), silent on failure (every caller has a fallback), and charged to the memory
/// cgroup of the task whose fault or unmap caused it.
const GFP: bindings::gfp_t = bindings::GFP_NOWAIT
    | bindings::__GFP_NOWARN
    | (bindings::GFP_KERNEL_ACCOUNT & !bindings::GFP_KERNEL);

/// `xa_mk_value()`: a number as a tree entry (odd, so never NULL, a pointer or an internal
/// entry). `v` must be below `2^63`.
fn mk_value(v: usize) -> *mut c_void {
    ((v << 1) | 1) as *mut c_void
}

/// `xa_to_value()`, for entries made by [`mk_value`].
fn to_value(entry: *mut c_void) -> usize {
    entry as usize >> 1
}

/// Evidence that the current context is inside an RCU read-side critical section.
///
/// [`kernel::sync::rcu::Guard`] owns the section it stands for; this type also covers sections
/// opened by C callers (the fault path calls the hook under `rcu_read_lock()`).
///
/// # Invariants
///
/// The RCU read side is held on this CPU for as long as the value exists.
pub(crate) struct RcuSection(PhantomData<*mut ()>);

impl RcuSection {
    /// Claims the RCU read side that the caller is in.
    ///
    /// # Safety
    ///
    /// The caller must be inside an RCU read-side critical section that lasts at least as long as
    /// the returned value.
    #[inline]
    pub(crate) unsafe fn assume_held() -> Self {
        // INVARIANT: The caller promises the read side is held.
        Self(PhantomData)
    }
}

/// A maple tree in RCU mode mapping ranges of `usize` to `NonNull<T>`, plus owner records.
///
/// Every lockless lookup reads the tree's root; every write takes the lock. The two live on
/// cache lines of their own, so that writers (fill, forget) do not keep stealing the line that
/// every fault in the mm reads.
///
/// # Invariants
///
/// `lock` is an initialized spinlock. `tree` is an initialized maple tree with
/// `MT_FLAGS_USE_RCU` whose external lock is `lock`; it stores only pointers to `T` (or
/// nothing). `owners` is an initialized plain maple tree whose external lock is `lock` too; it
/// stores only [`mk_value`] entries, at single indexes that are pointer values.
#[pin_data(PinnedDrop)]
pub(crate) struct RcuMapleTree<T> {
    /// Read by lookups.
    #[pin]
    tree: Opaque<CacheLine<bindings::maple_tree>>,
    /// Written by writers.
    #[pin]
    lock: Opaque<CacheLine<bindings::spinlock_t>>,
    #[pin]
    owners: Opaque<bindings::maple_tree>,
    _p: PhantomData<*mut T>,
}

/// A value alone on its cache line(s); `repr(C)`, so a pointer to it is one to the value.
#[repr(C, align(64))]
struct CacheLine<T>(T);

// SAFETY: The tree only stores pointers and never dereferences them; writers serialize on the
// tree's spinlock and readers are safe against them under RCU, from any thread.
unsafe impl<T> Send for RcuMapleTree<T> {}
// SAFETY: As above: every `&self` method either takes the spinlock or reads under RCU.
unsafe impl<T> Sync for RcuMapleTree<T> {}

impl<T> RcuMapleTree<T> {
    /// Creates an empty tree.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(&this in Self {
            // SAFETY: `slot` is valid for writes and pinned; nothing uses the lock before it is
            // initialized here.
            lock <- Opaque::ffi_init(|slot: *mut CacheLine<_>| unsafe {
                vmashadow_spin_lock_init(slot.cast())
            }),
            // SAFETY: `slot` is valid for writes and pinned; `lock`, initialized just above, is
            // pinned in the same allocation and outlives the tree, which is destroyed in drop.
            //
            // Plain range nodes: no gap tracking is needed. (Freeing such a tree in RCU mode
            // corrupted a node pointer when the freed top node was full; kernel patch 0001 fixes
            // that, KUnit `full_top_node_freed_whole` and `make test`'s userland test cover it.)
            tree <- Opaque::ffi_init(move |slot: *mut CacheLine<_>| unsafe {
                vmashadow_mt_init_locked_by(
                    slot.cast(),
                    bindings::MT_FLAGS_USE_RCU,
                    Opaque::cast_into(&raw const (*this.as_ptr()).lock).cast(),
                )
            }),
            // SAFETY: As for `tree`. Not RCU: no lockless reader.
            owners <- Opaque::ffi_init(move |slot| unsafe {
                vmashadow_mt_init_locked_by(
                    slot,
                    0,
                    Opaque::cast_into(&raw const (*this.as_ptr()).lock).cast(),
                )
            }),
            _p: PhantomData,
        })
    }

    /// Returns the pointer stored for the range that covers `index`.
    ///
    /// Lockless: the pointer is what the tree held at some moment during the call; a writer may
    /// have replaced it since. It is valid to use only as a hint.
    #[inline]
    pub(crate) fn load(&self, index: usize, _rcu: &RcuSection) -> Option<NonNull<T>> {
        // SAFETY: The tree is initialized (type invariant); `mtree_load()` walks an RCU-mode tree
        // safely against concurrent writers under the RCU read lock the caller holds.
        NonNull::new(unsafe { bindings::mtree_load(self.tree(), index) }.cast())
    }

    /// Takes the tree's spinlock for writing.
    #[inline]
    pub(crate) fn lock(&self) -> RcuMapleGuard<'_, T> {
        // SAFETY: The tree is initialized, so its spinlock is.
        unsafe { bindings::spin_lock(self.ma_lock()) };
        // INVARIANT: The lock was just taken.
        RcuMapleGuard(self)
    }

    fn ma_lock(&self) -> *mut bindings::spinlock_t {
        self.lock.get().cast()
    }

    fn tree(&self) -> *mut bindings::maple_tree {
        self.tree.get().cast()
    }
}

#[pinned_drop]
impl<T> PinnedDrop for RcuMapleTree<T> {
    fn drop(self: Pin<&mut Self>) {
        // Both trees, under the lock; RCU-mode nodes are freed after a grace period. Neither
        // owns what it stores.
        self.lock().clear();
    }
}

/// The write side of an [`RcuMapleTree`]: its spinlock, held.
///
/// # Invariants
///
/// The guard holds the tree's spinlock.
pub(crate) struct RcuMapleGuard<'a, T>(&'a RcuMapleTree<T>);

impl<T> Drop for RcuMapleGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: The guard holds the lock (type invariant).
        unsafe { bindings::spin_unlock(self.0.ma_lock()) };
    }
}

impl<T> RcuMapleGuard<'_, T> {
    fn state(&self, first: usize, last: usize) -> bindings::ma_state {
        Self::state_of(self.0.tree(), first, last)
    }

    fn state_of(tree: *mut bindings::maple_tree, first: usize, last: usize) -> bindings::ma_state {
        bindings::ma_state {
            tree,
            index: first,
            last,
            node: core::ptr::null_mut(),
            status: bindings::maple_status_ma_start,
            min: 0,
            max: usize::MAX,
            alloc: core::ptr::null_mut(),
            mas_flags: 0,
            store_type: bindings::store_type_wr_invalid,
            ..Default::default()
        }
    }

    /// Returns the first entry overlapping `[first, last]` at or after `first`, with its range.
    pub(crate) fn find(&self, first: usize, last: usize) -> Option<(usize, usize, NonNull<T>)> {
        let mut mas = self.state(first, first);
        // SAFETY: `mas` refers to this tree, whose lock we hold.
        let entry = unsafe { bindings::mas_find(&mut mas, last) };
        NonNull::new(entry.cast()).map(|p| (mas.index, mas.last, p))
    }

    /// Stores `value` (or nothing) over `[first, last]`, replacing whatever was there.
    ///
    /// Never sleeps: in RCU mode even an erase may need new nodes, and they are allocated with
    /// `GFP_NOWAIT`, so this can fail with `ENOMEM`.
    pub(crate) fn store(&mut self, first: usize, last: usize, value: Option<NonNull<T>>) -> Result {
        let entry = value.map_or(core::ptr::null_mut(), |p| p.as_ptr().cast());
        let mut mas = self.state(first, last);
        // SAFETY: `mas` refers to this tree, whose lock we hold; the entry is a pointer to `T`
        // (aligned, so never mistaken for an internal entry) or NULL.
        // `mas_store_gfp()` frees what it preallocated before returning.
        to_result(unsafe { bindings::mas_store_gfp(&mut mas, entry, GFP) })
    }

    /// Removes every entry and every owner record. Needs no allocation, so it cannot fail.
    pub(crate) fn clear(&mut self) {
        // SAFETY: We hold the lock of both trees. In RCU mode the nodes are freed after a grace
        // period, so concurrent readers see either the old tree or an empty one; the owner
        // records have no lockless readers.
        unsafe {
            bindings::__mt_destroy(self.0.tree());
            bindings::__mt_destroy(self.0.owners.get());
        }
    }

    /// The number recorded for `p` by [`Self::set_owner`], if any.
    pub(crate) fn owner(&self, p: NonNull<T>) -> Option<usize> {
        // SAFETY: `owners` is initialized and we hold its (external) lock.
        let entry = unsafe { bindings::mtree_load(self.0.owners.get(), p.as_ptr() as usize) };
        (!entry.is_null()).then(|| to_value(entry))
    }

    /// Records `v` (below `2^63`) for `p`. Can fail with `ENOMEM` (`GFP_NOWAIT`).
    pub(crate) fn set_owner(&mut self, p: NonNull<T>, v: usize) -> Result {
        self.store_owner(p, mk_value(v))
    }

    /// Drops the record of `p`. Can fail with `ENOMEM` (`GFP_NOWAIT`): the tree may need a node
    /// to rebalance.
    pub(crate) fn clear_owner(&mut self, p: NonNull<T>) -> Result {
        self.store_owner(p, core::ptr::null_mut())
    }

    fn store_owner(&mut self, p: NonNull<T>, entry: *mut c_void) -> Result {
        let key = p.as_ptr() as usize;
        let mut mas = Self::state_of(self.0.owners.get(), key, key);
        // SAFETY: `mas` refers to `owners`, whose lock we hold; the entry is a value entry or
        // NULL. `mas_store_gfp()` frees what it preallocated before returning.
        to_result(unsafe { bindings::mas_store_gfp(&mut mas, entry, GFP) })
    }
}
