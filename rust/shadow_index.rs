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
//! removes the range that points at it. A VMA has at most one range here, and its owner record
//! says where that range starts: the VMA's own `vm_start` would not do, since a VMA can move
//! or change size in place (split, merge, `mremap()`) after it was stored, so its stored range
//! may lie anywhere by the time it is freed. The alternative, walking every range on every
//! free, made unmapping cost O(ranges).

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
/// `entries` is the number of ranges in `tree`; it changes only under the tree's lock. Every
/// range in `tree` that points at a VMA starts at that VMA's owner record. (A record can
/// outlive its range, which a fill may remove as stale: such a record names a start where the
/// VMA is not, is harmless, and goes when the VMA is freed.)
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
    /// now: the range the VMA had before, if it moved, and any stored range that overlaps
    /// `[start, end)` are stale and are removed whole. An index already holding `cap` ranges is
    /// emptied first.
    pub(crate) fn fill(&self, start: usize, end: usize, vma: NonNull<T>, cap: usize) -> Fill {
        if start >= end {
            return Fill::Present;
        }
        let last = end - 1;
        let mut tree = self.tree.lock();
        let mut entries = self.entries.load(Relaxed);
        let mut stale = 0;

        if let Some(old) = tree.owner(vma) {
            match tree.find(old, old) {
                Some((first, l, p)) if p == vma && first == old => {
                    if first == start && l == last {
                        return Fill::Present;
                    }
                    if tree.store(first, l, None).is_err() {
                        return Fill::NoMem {
                            pruned: self.empty(&mut tree, entries),
                        };
                    }
                    entries = entries.saturating_sub(1);
                    stale += 1;
                }
                _ => {}
            }
        }

        // The stale ranges overlapping [start, last] are disjoint from each other, so they and
        // the gaps between them exactly tile [lo, hi].
        let (mut lo, mut hi, mut overlapping) = (start, last, 0);
        let mut at = start;
        while let Some((first, l, _)) = tree.find(at, last) {
            lo = lo.min(first);
            hi = hi.max(l);
            overlapping += 1;
            match l.checked_add(1) {
                Some(next) if next <= last => at = next,
                _ => break,
            }
        }
        if overlapping > 0 {
            if tree.store(lo, hi, None).is_err() {
                return Fill::NoMem {
                    pruned: self.empty(&mut tree, entries) + stale,
                };
            }
            entries = entries.saturating_sub(overlapping);
            stale += overlapping;
        }

        let mut overflow = false;
        if entries >= cap {
            tree.clear();
            stale += entries;
            entries = 0;
            overflow = true;
        }
        // The record first: a range must never point at a VMA whose record is elsewhere.
        if tree.set_owner(vma, start).is_err() || tree.store(start, last, Some(vma)).is_err() {
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

    /// Removes the range pointing at `vma`, which is about to be freed. Returns how many (0 or
    /// 1).
    ///
    /// Runs for every VMA freed in an mm with an index: one lookup of the owner record, and for
    /// a VMA that was never stored nothing more.
    pub(crate) fn forget(&self, vma: NonNull<T>) -> usize {
        let mut tree = self.tree.lock();
        let Some(first) = tree.owner(vma) else {
            return 0;
        };
        let entries = self.entries.load(Relaxed);
        let mut removed = 0;
        if let Some((f, l, p)) = tree.find(first, first) {
            if p == vma {
                if tree.store(f, l, None).is_err() {
                    // Cannot remove it: remove everything instead. The index must never keep
                    // a pointer to a VMA past its free.
                    return self.empty(&mut tree, entries);
                }
                removed = 1;
            }
        }
        // Without memory to rebalance, the record stays: harmless, since no range points at this
        // address any more, so a VMA allocated here later finds no range of its own at `first`.
        let _ = tree.clear_owner(vma);
        // INVARIANT: Updated under the tree lock.
        self.entries.store(entries.saturating_sub(removed), Relaxed);
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
    fn a_vma_that_moved_keeps_one_range() -> Result {
        let idx = index()?;
        idx.fill(0x10000, 0x20000, fake(1), 16);
        idx.fill(0x30000, 0x40000, fake(2), 16);
        // VMA 1 moved in place (split, merge, mremap) to a range away from its old one.
        assert_eq!(
            idx.fill(0x50000, 0x60000, fake(1), 16),
            Fill::Stored { pruned: 1 }
        );
        assert_eq!(at(&idx, 0x10000), None);
        assert_eq!(at(&idx, 0x50000), Some(fake(1)));
        assert_eq!(idx.entries(), 2);
        assert_eq!(idx.forget(fake(1)), 1);
        assert_eq!(at(&idx, 0x50000), None);
        assert_eq!(at(&idx, 0x30000), Some(fake(2)));
        assert_eq!(idx.entries(), 1);
        assert_eq!(idx.forget(fake(7)), 0);
        assert_eq!(idx.entries(), 1);
        Ok(())
    }

    #[test]
    fn forget_after_prune_and_address_reuse() -> Result {
        let idx = index()?;
        idx.fill(0x10000, 0x20000, fake(1), 16);
        // VMA 2 now covers that range: VMA 1's range goes, its record stays.
        assert_eq!(
            idx.fill(0x10000, 0x20000, fake(2), 16),
            Fill::Stored { pruned: 1 }
        );
        // Freeing VMA 1 must not take VMA 2's range with it.
        assert_eq!(idx.forget(fake(1)), 0);
        assert_eq!(at(&idx, 0x10000), Some(fake(2)));
        // A new VMA at VMA 1's address, elsewhere.
        assert_eq!(
            idx.fill(0x40000, 0x41000, fake(1), 16),
            Fill::Stored { pruned: 0 }
        );
        assert_eq!(idx.forget(fake(1)), 1);
        assert_eq!(idx.forget(fake(2)), 1);
        assert_eq!(idx.entries(), 0);
        assert_eq!(at(&idx, 0x10000), None);
        Ok(())
    }

    #[test]
    fn many_ranges_forgotten_one_by_one() -> Result {
        let idx = index()?;
        // Enough ranges (and owner records) for several levels of both trees.
        let n = 600;
        for i in 0..n {
            let start = 0x100000 + i * 0x2000;
            assert_eq!(
                idx.fill(start, start + 0x1000, fake(i + 1), 1024),
                Fill::Stored { pruned: 0 }
            );
        }
        assert_eq!(idx.entries(), n);
        // Every other one, then the rest: the trees shrink from the middle.
        for i in Iterator::chain((0..n).step_by(2), (1..n).step_by(2)) {
            assert_eq!(idx.forget(fake(i + 1)), 1);
            assert_eq!(at(&idx, 0x100000 + i * 0x2000), None);
        }
        assert_eq!(idx.entries(), 0);
        Ok(())
    }

    #[test]
    fn full_top_node_freed_whole() -> Result {
        let idx = index()?;
        // One-page ranges with one-page gaps, ascending: after 120 the root of the RCU tree is
        // a full range node, the shape kernel patch 0001 fixes the freeing of. Under KASAN an
        // unfixed kernel reports a bad free in mt_free_walk() once the grace period ends.
        for i in 0..120 {
            let start = 0x100000 + i * 0x2000;
            idx.fill(start, start + 0x1000, fake(i + 1), 1024);
        }
        assert_eq!(idx.entries(), 120);
        assert_eq!(idx.clear(), 120);
        // SAFETY: FFI call without preconditions; KUnit cases may sleep.
        unsafe { bindings::rcu_barrier() };
        assert_eq!(at(&idx, 0x100000), None);
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
