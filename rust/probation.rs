// SPDX-License-Identifier: GPL-2.0

//! The first stage of admission: a small, fixed table of the first misses of VMAs that are
//! not indexed yet.
//!
//! A VMA that lives for one burst of faults (mapped, touched, unmapped) should never prove hot
//! and cost the writer neither a store nor a removal. The table is in front of the index's
//! owner records: each slot holds a VMA's address and the tick of its first miss, at a slot
//! chosen by the address. It needs no allocation and no lock; a record goes when its VMA is
//! admitted or, through [`Probation::forget`], freed.
//!
//! When a VMA's slot holds another VMA's record, that record decides. If it is younger than
//! the admission window, the table answers [`Stage::Busy`], and the index records the new first
//! miss as an owner record instead, so that a process missing on thousands of VMAs at once is
//! not throttled by the table's size. If it is older, its VMA lives on but missed only once
//! in the window (cold, or hot but slow to come round): the table answers
//! [`Stage::Displaced`], handing that record to the index to keep as an owner record, and
//! takes the new VMA. So cold VMAs do not hold the table for good, and the short-lived VMAs
//! that follow still pass through it at no cost to the writer.
//!
//! The table is lossy by design: a VMA freed and reallocated at the same address may inherit
//! a record (and be admitted early), and concurrent misses race on a slot with relaxed loads
//! and stores (a slot may pair one VMA's address with another's tick). Each of these only
//! moves when a VMA is admitted; none makes a hint wrong, since the index is a cache of hints
//! that the core validates.

use kernel::{
    prelude::*,
    sync::atomic::{ordering::Relaxed, Atomic},
};

/// Slots in one table: 1 KiB, enough for the VMAs one process maps and unmaps at once.
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
    /// As `Recorded`, in the slot of another VMA's record older than the window, which the
    /// caller should keep elsewhere.
    Displaced {
        /// The address of the VMA whose record this was.
        key: usize,
        /// Its first miss.
        first_miss: Tick,
    },
    /// Its first miss is recorded here, and was too recent.
    Wait,
    /// Its slot holds another VMA's recent record: the index decides, from its owner records.
    Busy,
}

/// One VMA's first miss.
struct Slot {
    /// The VMA's address; 0 when the slot is free.
    key: Atomic<usize>,
    /// The tick of its first miss.
    tick: Atomic<u32>,
}

/// A table of recent first misses.
pub(crate) struct Probation([Slot; SLOTS]);

impl Probation {
    /// An empty table.
    pub(crate) const fn new() -> Self {
        Self(
            [const {
                Slot {
                    key: Atomic::new(0),
                    tick: Atomic::new(0),
                }
            }; SLOTS],
        )
    }

    fn slot(&self, key: usize) -> &Slot {
        // VMAs are slab objects well over 8 bytes apart: drop the bits that never differ.
        let k = key >> 3;
        &self.0[(k ^ (k >> 6) ^ (k >> 12)) % SLOTS]
    }

    /// Whether the VMA at address `key` (never 0), missing now, has kept missing for `after`
    /// ticks. The first miss is recorded here if its slot is free, or held by a record older
    /// than `after`. With `after == 0`, always.
    pub(crate) fn admit(&self, key: usize, now: Tick, after: u32) -> Stage {
        if after == 0 {
            return Stage::Admit;
        }
        let slot = self.slot(key);
        let held = slot.key.load(Relaxed);
        if held == key {
            if now.0.wrapping_sub(slot.tick.load(Relaxed)) < after {
                return Stage::Wait;
            }
            // Admitted: the slot is free for the next one.
            slot.key.store(0, Relaxed);
            return Stage::Admit;
        }
        let first_miss = Tick(slot.tick.load(Relaxed));
        if held != 0 && now.0.wrapping_sub(first_miss.0) < after {
            return Stage::Busy;
        }
        slot.tick.store(now.0, Relaxed);
        slot.key.store(key, Relaxed);
        if held == 0 {
            Stage::Recorded
        } else {
            Stage::Displaced {
                key: held,
                first_miss,
            }
        }
    }

    /// The VMA at address `key` is about to be freed: free its slot if it holds one.
    #[inline]
    pub(crate) fn forget(&self, key: usize) {
        let slot = self.slot(key);
        if slot.key.load(Relaxed) == key {
            slot.key.store(0, Relaxed);
        }
    }
}

#[kunit_tests(vmashadow_probation)]
mod tests {
    use super::*;

    /// Another address whose record lands in `a`'s slot.
    fn same_slot(p: &Probation, a: usize) -> usize {
        let slot = core::ptr::from_ref(p.slot(a));
        (1..1 << 20)
            .map(|i| a + (i << 3))
            .find(|&b| core::ptr::eq(p.slot(b), slot))
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
    fn a_held_slot_is_busy_until_admitted_freed_or_old() {
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
        // A record older than the window gives its slot up, and is handed over to be kept.
        assert_eq!(p.admit(b, Tick(12), 5), Stage::Busy);
        assert_eq!(
            p.admit(b, Tick(13), 5),
            Stage::Displaced {
                key: a,
                first_miss: Tick(8)
            }
        );
        assert_eq!(p.admit(b, Tick(14), 5), Stage::Wait);
        assert_eq!(p.admit(b, Tick(18), 5), Stage::Admit);
    }
}
