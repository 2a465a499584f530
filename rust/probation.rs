// SPDX-License-Identifier: GPL-2.0

//! The first stage of admission: a small, fixed table of the first misses of VMAs that are
//! not indexed yet.
//!
//! A VMA that lives for one burst of faults (mapped, touched, unmapped) should never prove hot
//! and cost the writer neither a store nor a removal. The table is in front of the index's
//! owner records: an array of words, each `(tag << 32) | tick`, at a slot chosen by the VMA's
//! address. It needs no allocation and no lock; a record goes when its VMA is admitted or,
//! through [`Probation::forget`], freed. When a VMA's slot is held by another VMA's unexpired record, the
//! table answers [`Stage::Busy`], and the index records the first miss as an owner record
//! instead, so that a process missing on thousands of VMAs at once is not throttled by the
//! table's size.
//!
//! The table is lossy by design: a VMA freed and reallocated at the same address may inherit
//! a record (and be admitted early), and concurrent misses race on a slot with relaxed loads
//! and stores. Each of these only moves when a VMA is admitted; none makes a hint wrong,
//! since the index is a cache of hints that the core validates.

use kernel::{
    prelude::*,
    sync::atomic::{ordering::Relaxed, Atomic},
};

/// Slots in one table: 512 bytes, enough for the VMAs one process maps and unmaps at once.
const SLOTS: usize = 64;

/// The time of a miss, in ticks (only differences count, modulo 2^32).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tick(pub(crate) u32);

/// What the table says about a VMA that missed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    /// It has kept missing long enough (or there is no delay): index it.
    Admit,
    /// Its first miss was recorded here just now. (The index may know of an earlier one.)
    Recorded,
    /// Its first miss is recorded here, and was too recent.
    Wait,
    /// Its slot is another VMA's: the index decides, from its owner records.
    Busy,
}

/// A table of recent first misses.
pub(crate) struct Probation([Atomic<u64>; SLOTS]);

impl Probation {
    /// An empty table.
    pub(crate) const fn new() -> Self {
        Self([const { Atomic::new(0) }; SLOTS])
    }

    fn slot(&self, key: usize) -> (&Atomic<u64>, u32) {
        // VMAs are slab objects well over 8 bytes apart: drop the bits that never differ.
        let k = key >> 3;
        let slot = &self.0[(k ^ (k >> 6) ^ (k >> 12)) % SLOTS];
        // A tag of 0 is kept for "empty"; a key whose tag is 0 gets 1 (a collision, at worst).
        (slot, (k as u32).max(1))
    }

    /// Whether the VMA at address `key`, missing now, has kept missing for `after` ticks. The
    /// first miss is recorded here if its slot is free. With `after == 0`, always.
    pub(crate) fn admit(&self, key: usize, now: Tick, after: u32) -> Stage {
        if after == 0 {
            return Stage::Admit;
        }
        let (slot, tag) = self.slot(key);
        let word = slot.load(Relaxed);
        if (word >> 32) as u32 == tag {
            if now.0.wrapping_sub(word as u32) < after {
                return Stage::Wait;
            }
            // Admitted: the slot is free for the next one.
            slot.store(0, Relaxed);
            return Stage::Admit;
        }
        if word == 0 {
            slot.store((u64::from(tag) << 32) | u64::from(now.0), Relaxed);
            return Stage::Recorded;
        }
        // Never displace another VMA's record, however old: that VMA may be hot but slow to
        // come round (a process cycling through thousands of VMAs), and would lose its first
        // miss for good. A record goes when its VMA is admitted or freed.
        Stage::Busy
    }

    /// The VMA at address `key` is about to be freed: free its slot if it holds one.
    #[inline]
    pub(crate) fn forget(&self, key: usize) {
        let (slot, tag) = self.slot(key);
        let word = slot.load(Relaxed);
        if (word >> 32) as u32 == tag {
            slot.store(0, Relaxed);
        }
    }
}

#[kunit_tests(vmashadow_probation)]
mod tests {
    use super::*;

    /// Another address whose record lands in `a`'s slot.
    fn same_slot(p: &Probation, a: usize) -> usize {
        let slot = core::ptr::from_ref(p.slot(a).0);
        (1..1 << 20)
            .map(|i| a + (i << 3))
            .find(|&b| core::ptr::eq(p.slot(b).0, slot))
            .unwrap()
    }

    #[test]
    fn a_vma_is_admitted_once_it_kept_missing() {
        let p = Probation::new();
        let (a, b) = (0xffff_8880_0123_4500, 0xffff_8880_0123_4600);
        // First miss: recorded; too soon; then long enough.
        assert_eq!(p.admit(a, Tick(100), 3), Stage::Recorded);
        assert_eq!(p.admit(a, Tick(102), 3), Stage::Wait);
        assert_eq!(p.admit(a, Tick(103), 3), Stage::Admit);
        // Across the wrap of the tick counter.
        assert_eq!(p.admit(b, Tick(u32::MAX - 1), 3), Stage::Recorded);
        assert_eq!(p.admit(b, Tick(1), 3), Stage::Admit);
        // No delay: at once, and nothing recorded.
        assert_eq!(p.admit(0xffff_8880_0000_0040, Tick(7), 0), Stage::Admit);
    }

    #[test]
    fn a_held_slot_is_busy_until_admitted_or_freed() {
        let p = Probation::new();
        let a = 0xffff_8880_0000_1000;
        let b = same_slot(&p, a);
        assert_eq!(p.admit(a, Tick(0), 5), Stage::Recorded);
        assert_eq!(p.admit(b, Tick(1), 5), Stage::Busy);
        assert_eq!(p.admit(a, Tick(5), 5), Stage::Admit);
        // `a` was admitted and freed the slot: now `b` waits its turn.
        assert_eq!(p.admit(b, Tick(6), 5), Stage::Recorded);
        // A VMA freed on probation frees its slot; forgetting another leaves it.
        p.forget(a);
        assert_eq!(p.admit(a, Tick(7), 5), Stage::Busy);
        p.forget(b);
        assert_eq!(p.admit(a, Tick(8), 5), Stage::Recorded);
        // However old, another VMA's record keeps its slot.
        assert_eq!(p.admit(b, Tick(1000), 5), Stage::Busy);
    }
}
