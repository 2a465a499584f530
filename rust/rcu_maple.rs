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
//! C header: [`include/linux/maple_tree.h`](srctree/include/linux/maple_tree.h)

use core::{marker::PhantomData, ptr::NonNull};
use kernel::{bindings, error::to_result, prelude::*, types::Opaque};

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

/// A maple tree in RCU mode mapping ranges of `usize` to `NonNull<T>`.
///
/// # Invariants
///
/// `tree` is an initialized maple tree with `MT_FLAGS_USE_RCU` and its internal spinlock; it
/// stores only pointers to `T` (or nothing).
#[pin_data(PinnedDrop)]
pub(crate) struct RcuMapleTree<T> {
    #[pin]
    tree: Opaque<bindings::maple_tree>,
    _p: PhantomData<*mut T>,
}

// SAFETY: The tree only stores pointers and never dereferences them; writers serialize on the
// tree's spinlock and readers are safe against them under RCU, from any thread.
unsafe impl<T> Send for RcuMapleTree<T> {}
// SAFETY: As above: every `&self` method either takes the spinlock or reads under RCU.
unsafe impl<T> Sync for RcuMapleTree<T> {}

impl<T> RcuMapleTree<T> {
    /// Creates an empty tree.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `slot` is valid for writes and pinned; the tree is destroyed in drop
            // before the memory goes away.
            //
            // `MT_FLAGS_ALLOC_RANGE` as in `mm->mm_mt`: the gap tracking is not needed, but with
            // plain range nodes in RCU mode the 7.3 tree double-frees a node under insert/erase
            // churn (KASAN: double-free in mt_free_walk(), node allocated by a store and freed
            // by `kfree_rcu()` first; `race_test` index.many_vmas_churn runs that workload). The
            // allocation-range node types are the ones the VMA tree exercises all day.
            tree <- Opaque::ffi_init(|slot| unsafe {
                bindings::mt_init_flags(
                    slot,
                    bindings::MT_FLAGS_USE_RCU | bindings::MT_FLAGS_ALLOC_RANGE,
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
        NonNull::new(unsafe { bindings::mtree_load(self.tree.get(), index) }.cast())
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
        // SAFETY: This pointer offset operation stays in-bounds.
        let lock = unsafe { &raw mut (*self.tree.get()).__bindgen_anon_1.ma_lock };
        lock.cast()
    }
}

#[pinned_drop]
impl<T> PinnedDrop for RcuMapleTree<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: The tree is initialized and not used after this; it owns no values, and
        // `mtree_destroy()` frees RCU-mode nodes after a grace period.
        unsafe { bindings::mtree_destroy(self.tree.get()) };
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
        bindings::ma_state {
            tree: self.0.tree.get(),
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

    /// Calls `f` with the range and value of every entry, in order, in one walk of the tree.
    ///
    /// [`Self::find`] from each entry's end would walk down from the root once per entry.
    pub(crate) fn for_each(&self, mut f: impl FnMut(usize, usize, NonNull<T>)) {
        let mut mas = self.state(0, 0);
        loop {
            // SAFETY: `mas` refers to this tree, whose lock we hold, so the tree cannot change
            // between calls and `mas_find()` resumes after the entry it returned last.
            let entry = unsafe { bindings::mas_find(&mut mas, usize::MAX) };
            let Some(p) = NonNull::new(entry.cast()) else {
                return;
            };
            f(mas.index, mas.last, p);
            if mas.last == usize::MAX {
                return;
            }
        }
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
        to_result(unsafe {
            bindings::mas_store_gfp(
                &mut mas,
                entry,
                bindings::GFP_NOWAIT | bindings::__GFP_NOWARN,
            )
        })
    }

    /// Removes every entry. Needs no allocation, so it cannot fail.
    pub(crate) fn clear(&mut self) {
        // SAFETY: We hold the lock; in RCU mode the nodes are freed after a grace period, so
        // concurrent readers see either the old tree or an empty one.
        unsafe { bindings::__mt_destroy(self.0.tree.get()) };
    }
}
