// SPDX-License-Identifier: GPL-2.0

//! The per-mm shadow index: `[vm_start, vm_end)` -> VMA, in an RCU-mode maple tree.
//!
//! The index is a cache of *hints*. The fault path reads it under RCU with no lock, and the
//! core validates whatever it returns as `lock_vma_under_rcu()` validates what it finds in
//! `mm->mm_mt`. The index therefore never dereferences the VMA pointers it stores (a freed
//! VMA's `vm_start`/`vm_end` share storage with the slab free pointer): it prunes by the ranges
//! and pointer values it stored, and it learns ranges only from `fill`, where the VMA is
//! locked.
//!
//! It must still never hand out a pointer to a VMA that may have been freed past its RCU
//! grace period: the core calls [`ShadowIndex::forget`] before a VMA is freed, and that
//! removes every range that points at it.

use crate::rcu_maple::{RcuMapleGuard, RcuMapleTree, RcuSection};
use core::ptr::NonNull;
use kernel::{
    bindings,
    prelude::*,
    sync::atomic::{ordering::Relaxed, Atomic},
    types::Opaque,
};

/// What [`ShadowIndex::fill`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fill {
    /// The range was stored; that many stale overlapping entries were removed first.
    Stored { pruned: usize },
    /// The exact range already pointed at this VMA.
    Present,
    /// The index was full: it was emptied, then the range was stored.
    Overflow { pruned: usize },
    /// No memory for a node (`GFP_NOWAIT`): the index was emptied and the range not stored.
    NoMem { pruned: usize },
}

/// A per-mm index of VMAs by range, readable under RCU.
///
/// Generic over the pointee so that the KUnit tests can use stand-in values: the index never
/// dereferences what it stores.
///
/// # Invariants
///
/// `entries` is the number of ranges in `tree`; it changes only under the tree's lock.
#[pin_data]
pub(crate) struct ShadowIndex<T = bindings::vm_area_struct> {
    #[pin]
    tree: RcuMapleTree<T>,
    entries: Atomic<usize>,
    /// The mm whose `fault_vma_data` points here, to clear it on unload. Never dereferenced by
    /// the index itself.
    pub(crate) mm: *mut bindings::mm_struct,
    /// For `kvfree_call_rcu()`.
    #[pin]
    pub(crate) rcu: Opaque<bindings::kvfree_rcu_head>,
}

impl<T> ShadowIndex<T> {
    /// Creates an empty index for `mm`.
    pub(crate) fn new(mm: *mut bindings::mm_struct) -> impl PinInit<Self> {
        pin_init!(Self {
            tree <- RcuMapleTree::new(),
            entries: Atomic::new(0),
            mm,
            rcu: Opaque::uninit(),
        })
    }

    /// The candidate for a fault at `addr`, if the index has one. Lockless.
    #[inline]
    pub(crate) fn lookup(&self, addr: usize, rcu: &RcuSection) -> Option<NonNull<T>> {
        self.tree.load(addr, rcu)
    }

    /// Number of ranges stored.
    pub(crate) fn entries(&self) -> usize {
        self.entries.load(Relaxed)
    }

    /// Learns that `[start, end)` is `vma`. The caller holds `vma` locked, so the range is true
    /// now; any stored range that overlaps it is stale and is removed whole. An index already
    /// holding `cap` ranges is emptied first.
    pub(crate) fn fill(&self, start: usize, end: usize, vma: NonNull<T>, cap: usize) -> Fill {
        if start >= end {
            return Fill::Present;
        }
        let last = end - 1;
        let mut tree = self.tree.lock();
        let mut entries = self.entries.load(Relaxed);

        // The stale ranges overlapping [start, last] are disjoint from each other, so they and
        // the gaps between them exactly tile [lo, hi].
        let (mut lo, mut hi, mut stale) = (start, last, 0);
        let mut at = start;
        while let Some((first, l, p)) = tree.find(at, last) {
            if first == start && l == last && p == vma {
                return Fill::Present;
            }
            lo = lo.min(first);
            hi = hi.max(l);
            stale += 1;
            match l.checked_add(1) {
                Some(next) if next <= last => at = next,
                _ => break,
            }
        }

        let mut overflow = false;
        if stale > 0 {
            if tree.store(lo, hi, None).is_err() {
                return Fill::NoMem {
                    pruned: self.empty(&mut tree, entries),
                };
            }
            entries = entries.saturating_sub(stale);
        }
        if entries >= cap {
            tree.clear();
            stale += entries;
            entries = 0;
            overflow = true;
        }
        if tree.store(start, last, Some(vma)).is_err() {
            // The tree may be half-updated: start over from nothing rather than keep a range
            // we cannot vouch for.
            return Fill::NoMem {
                pruned: self.empty(&mut tree, entries) + stale,
            };
        }
        // INVARIANT: Updated under the tree lock.
        self.entries.store(entries + 1, Relaxed);
        if overflow {
            Fill::Overflow { pruned: stale }
        } else {
            Fill::Stored { pruned: stale }
        }
    }

    /// Removes every range pointing at `vma`, which is about to be freed. Returns how many.
    ///
    /// Runs for every VMA freed in an mm with an index, so it looks for `vma` in one walk of
    /// the tree (a VMA has one range in the index, rarely more) and only then removes what it
    /// found, since a store invalidates the walk.
    pub(crate) fn forget(&self, vma: NonNull<T>) -> usize {
        const BATCH: usize = 4;
        let mut tree = self.tree.lock();
        let mut entries = self.entries.load(Relaxed);
        let mut removed = 0;
        loop {
            let mut found = [(0, 0); BATCH];
            let (mut n, mut more) = (0, false);
            tree.for_each(|first, last, p| {
                if p != vma {
                    return;
                }
                if n < BATCH {
                    found[n] = (first, last);
                    n += 1;
                } else {
                    more = true;
                }
            });
            for &(first, last) in &found[..n] {
                if tree.store(first, last, None).is_err() {
                    // Cannot remove it: remove everything instead. The index must never keep
                    // a pointer to a VMA past its free.
                    return self.empty(&mut tree, entries);
                }
                entries = entries.saturating_sub(1);
                removed += 1;
            }
            if !more {
                break;
            }
        }
        // INVARIANT: Updated under the tree lock.
        self.entries.store(entries, Relaxed);
        removed
    }

    /// Removes everything (unload, teardown). Needs no memory.
    pub(crate) fn clear(&self) -> usize {
        let mut tree = self.tree.lock();
        let entries = self.entries.load(Relaxed);
        self.empty(&mut tree, entries)
    }

    /// Empties the tree whose lock `tree` is; returns how many ranges were dropped.
    fn empty(&self, tree: &mut RcuMapleGuard<'_, T>, entries: usize) -> usize {
        tree.clear();
        // INVARIANT: Updated under the tree lock.
        self.entries.store(0, Relaxed);
        entries
    }
}

// SAFETY: `mm` is only an address here; everything else is `Send`.
unsafe impl<T> Send for ShadowIndex<T> {}
// SAFETY: All mutation goes through the tree lock or atomics.
unsafe impl<T> Sync for ShadowIndex<T> {}

#[kunit_tests(vmashadow_index)]
mod tests {
    use super::*;
    use kernel::sync::rcu;

    /// Stand-in VMA pointers: the index never dereferences what it stores.
    fn fake(n: usize) -> NonNull<u64> {
        NonNull::new((0x1000 * n) as *mut u64).unwrap()
    }

    fn index() -> Result<Pin<KBox<ShadowIndex<u64>>>> {
        KBox::pin_init(ShadowIndex::new(core::ptr::null_mut()), GFP_KERNEL)
    }

    fn at(idx: &ShadowIndex<u64>, addr: usize) -> Option<NonNull<u64>> {
        let _guard = rcu::read_lock();
        // SAFETY: `_guard` holds the RCU read side for this call.
        let rcu = unsafe { RcuSection::assume_held() };
        idx.lookup(addr, &rcu)
    }

    #[test]
    fn fill_then_lookup() -> Result {
        let idx = index()?;
        assert_eq!(at(&idx, 0x10000), None);
        assert_eq!(
            idx.fill(0x10000, 0x20000, fake(1), 16),
            Fill::Stored { pruned: 0 }
        );
        assert_eq!(at(&idx, 0x10000), Some(fake(1)));
        assert_eq!(at(&idx, 0x1ffff), Some(fake(1)));
        assert_eq!(at(&idx, 0x20000), None);
        assert_eq!(at(&idx, 0xffff), None);
        assert_eq!(idx.entries(), 1);
        // The same range again is a no-op.
        assert_eq!(idx.fill(0x10000, 0x20000, fake(1), 16), Fill::Present);
        assert_eq!(idx.entries(), 1);
        Ok(())
    }

    #[test]
    fn overlap_replaces_stale_ranges_whole() -> Result {
        let idx = index()?;
        idx.fill(0x10000, 0x20000, fake(1), 16);
        idx.fill(0x20000, 0x30000, fake(2), 16);
        idx.fill(0x40000, 0x50000, fake(3), 16);
        assert_eq!(idx.entries(), 3);
        // A VMA that now spans the first two (they merged): both go, whole.
        assert_eq!(
            idx.fill(0x18000, 0x28000, fake(4), 16),
            Fill::Stored { pruned: 2 }
        );
        assert_eq!(at(&idx, 0x10000), None);
        assert_eq!(at(&idx, 0x18000), Some(fake(4)));
        assert_eq!(at(&idx, 0x27fff), Some(fake(4)));
        assert_eq!(at(&idx, 0x28000), None);
        assert_eq!(at(&idx, 0x40000), Some(fake(3)));
        assert_eq!(idx.entries(), 2);
        // Same range, another VMA (replaced in place).
        assert_eq!(
            idx.fill(0x18000, 0x28000, fake(5), 16),
            Fill::Stored { pruned: 1 }
        );
        assert_eq!(at(&idx, 0x18000), Some(fake(5)));
        assert_eq!(idx.entries(), 2);
        Ok(())
    }

    #[test]
    fn forget_removes_every_range_of_a_vma() -> Result {
        let idx = index()?;
        idx.fill(0x10000, 0x20000, fake(1), 16);
        idx.fill(0x30000, 0x40000, fake(2), 16);
        idx.fill(0x50000, 0x60000, fake(1), 16);
        assert_eq!(idx.forget(fake(1)), 2);
        assert_eq!(at(&idx, 0x10000), None);
        assert_eq!(at(&idx, 0x50000), None);
        assert_eq!(at(&idx, 0x30000), Some(fake(2)));
        assert_eq!(idx.entries(), 1);
        assert_eq!(idx.forget(fake(7)), 0);
        assert_eq!(idx.entries(), 1);
        Ok(())
    }

    #[test]
    fn forget_more_ranges_than_a_batch() -> Result {
        let idx = index()?;
        for i in 0..11 {
            let start = 0x100000 + i * 0x10000;
            // Every other range is VMA 1's: 6 of them, more than one batch.
            let vma = if i % 2 == 0 { fake(1) } else { fake(2 + i) };
            idx.fill(start, start + 0x1000, vma, 64);
        }
        assert_eq!(idx.entries(), 11);
        assert_eq!(idx.forget(fake(1)), 6);
        assert_eq!(idx.entries(), 5);
        for i in 0..11 {
            let want = if i % 2 == 0 { None } else { Some(fake(2 + i)) };
            assert_eq!(at(&idx, 0x100000 + i * 0x10000), want);
        }
        assert_eq!(idx.forget(fake(1)), 0);
        Ok(())
    }

    #[test]
    fn cap_empties_then_stores() -> Result {
        let idx = index()?;
        for i in 0..4 {
            let start = 0x100000 + i * 0x10000;
            assert_eq!(
                idx.fill(start, start + 0x1000, fake(i + 1), 4),
                Fill::Stored { pruned: 0 }
            );
        }
        assert_eq!(idx.entries(), 4);
        assert_eq!(
            idx.fill(0x900000, 0x901000, fake(9), 4),
            Fill::Overflow { pruned: 4 }
        );
        assert_eq!(idx.entries(), 1);
        assert_eq!(at(&idx, 0x100000), None);
        assert_eq!(at(&idx, 0x900000), Some(fake(9)));
        Ok(())
    }

    #[test]
    fn clear_and_empty_ranges() -> Result {
        let idx = index()?;
        assert_eq!(idx.fill(0x5000, 0x5000, fake(1), 4), Fill::Present);
        assert_eq!(idx.entries(), 0);
        idx.fill(0x10000, 0x20000, fake(1), 4);
        idx.fill(usize::MAX - 0xfff, usize::MAX, fake(2), 4);
        assert_eq!(at(&idx, usize::MAX - 1), Some(fake(2)));
        assert_eq!(idx.clear(), 2);
        assert_eq!(idx.entries(), 0);
        assert_eq!(at(&idx, 0x10000), None);
        Ok(())
    }
}
