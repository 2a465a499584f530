// SPDX-License-Identifier: GPL-2.0

//! The first stage of admission: a small, fixed table of the first misses of VMAs that are
//! not indexed yet.
//!
//! A VMA that lives for one burst of faults (mapped, touched, unmapped) should never prove hot
//! and cost the writer neither a store nor a removal. The table is in front of the index's
//! owner records: each slot holds a VMA's address and the tick of its first miss, in one of
//! the four slots of a bucket (one cache line) chosen by a hash of the address. Four ways, not
//! one: a burst of 64 new VMAs finds a free slot for 61 of them on average, where a table of
//! one-slot buckets of the same size leaves a fifth of them out. It needs no allocation and no
//! lock; a record goes when its VMA is admitted or, through [`Probation::forget`], freed.
//!
//! When a VMA's bucket is full of other VMAs' records, the oldest record decides. If it is
//! younger than the admission window, the table answers [`Stage::Busy`], and the index records
//! the new first miss as an owner record instead, so that a process missing on thousands of
//! VMAs at once is not throttled by the table's size. If it is older, its VMA lives on but
//! missed only once in the window (cold, or hot but slow to come round): the table answers
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

/// Slots in one bucket: 4 x 16 bytes, one cache line.
const WAYS: usize = 4;
/// Buckets in one table: 1,792 bytes, enough for the VMAs one process maps and unmaps at once,
/// and small enough that an index, with its RCU head, is one 2 KiB slab object (a power of two
/// would double that).
const BUCKETS: usize = 28;

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
    /// Its bucket holds other VMAs' recent records: the index decides, from its owner records.
    Busy,
}

/// One VMA's first miss.
struct Slot {
    /// The VMA's address; 0 when the slot is free.
    key: Atomic<usize>,
    /// The tick of its first miss.
    tick: Atomic<u32>,
}

/// The slots a VMA's record may take.
#[repr(align(64))]
struct Bucket([Slot; WAYS]);

/// A table of recent first misses.
pub(crate) struct Probation([Bucket; BUCKETS]);

impl Probation {
    /// An empty table.
    pub(crate) const fn new() -> Self {
        Self(
            [const {
                Bucket(
                    [const {
                        Slot {
                            key: Atomic::new(0),
                            tick: Atomic::new(0),
                        }
                    }; WAYS],
                )
            }; BUCKETS],
        )
    }

    fn bucket(&self, key: usize) -> &[Slot; WAYS] {
        // Slab objects sit at a fixed stride, which a plain multiplicative hash maps to a few
        // buckets for some strides: mix twice (splitmix64's constants).
        let h = (key as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let h = (h ^ (h >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        // The top 32 bits scaled to [0, BUCKETS): a multiply, not a division.
        &self.0[(((h >> 32) * BUCKETS as u64) >> 32) as usize].0
    }

    /// Whether the VMA at address `key` (never 0), missing now, has kept missing for `after`
    /// ticks. The first miss is recorded here, in a free slot of its bucket or else in place
    /// of the bucket's oldest record if that is older than `after`. With `after == 0`, always.
    pub(crate) fn admit(&self, key: usize, now: Tick, after: u32) -> Stage {
        if after == 0 {
            return Stage::Admit;
        }
        let bucket = self.bucket(key);
        let age = |s: &Slot| now.0.wrapping_sub(s.tick.load(Relaxed));
        if let Some(slot) = bucket.iter().find(|s| s.key.load(Relaxed) == key) {
            if age(slot) < after {
                return Stage::Wait;
            }
            // Admitted: the slot is free for the next one.
            slot.key.store(0, Relaxed);
            return Stage::Admit;
        }
        let free = bucket.iter().find(|s| s.key.load(Relaxed) == 0);
        let Some(slot) = free.or_else(|| {
            bucket
                .iter()
                .max_by_key(|s| age(s))
                .filter(|s| age(s) >= after)
        }) else {
            return Stage::Busy;
        };
        let (held, first_miss) = (slot.key.load(Relaxed), Tick(slot.tick.load(Relaxed)));
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

    /// Whether the VMA at address `key` has a first miss recorded here, less than `after` ticks
    /// before `now`: it is waiting out its admission window. Reads only.
    #[inline]
    pub(crate) fn waiting(&self, key: usize, now: Tick, after: u32) -> bool {
        after != 0
            && self.bucket(key).iter().any(|s| {
                s.key.load(Relaxed) == key && now.0.wrapping_sub(s.tick.load(Relaxed)) < after
            })
    }

    /// The VMA at address `key` is about to be freed: free its slot if it holds one.
    #[inline]
    pub(crate) fn forget(&self, key: usize) {
        if let Some(slot) = self.bucket(key).iter().find(|s| s.key.load(Relaxed) == key) {
            slot.key.store(0, Relaxed);
        }
    }
}

#[kunit_tests(vmashadow_probation)]
mod tests {
    use super::*;

    /// Other addresses whose records land in `a`'s bucket.
    fn same_bucket(p: &Probation, a: usize) -> impl Iterator<Item = usize> + '_ {
        let bucket = core::ptr::from_ref(p.bucket(a));
        (1..1 << 20)
            .map(move |i| a + (i << 3))
            .filter(move |&b| core::ptr::eq(p.bucket(b), bucket))
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
    fn a_full_bucket_is_busy_until_a_slot_is_admitted_freed_or_old() {
        let p = Probation::new();
        let a = 0xffff_8880_0000_1000;
        let mut others = same_bucket(&p, a);
        let mut next = || others.next().unwrap();
        let (b, c, d) = (next(), next(), next());
        let (e, f) = (next(), next());
        // The bucket fills up: a, then three more.
        assert_eq!(p.admit(a, Tick(0), 10), Stage::Recorded);
        for (x, t) in [(b, 1), (c, 2), (d, 3)] {
            assert_eq!(p.admit(x, Tick(t), 10), Stage::Recorded);
        }
        assert_eq!(p.admit(e, Tick(4), 10), Stage::Busy);
        // Forgetting a VMA that holds no slot changes nothing; a VMA freed on probation
        // frees its slot.
        p.forget(e);
        assert_eq!(p.admit(e, Tick(4), 10), Stage::Busy);
        p.forget(a);
        assert_eq!(p.admit(e, Tick(5), 10), Stage::Recorded);
        assert_eq!(p.admit(a, Tick(6), 10), Stage::Busy);
        // The oldest record, once older than the window, gives its slot up and is handed
        // over to be kept.
        assert_eq!(
            p.admit(f, Tick(11), 10),
            Stage::Displaced {
                key: b,
                first_miss: Tick(1)
            }
        );
        assert_eq!(p.admit(f, Tick(12), 10), Stage::Wait);
        // An admitted VMA frees its slot.
        assert_eq!(p.admit(c, Tick(12), 10), Stage::Admit);
        assert_eq!(p.admit(a, Tick(13), 10), Stage::Recorded);
        assert_eq!(p.admit(f, Tick(21), 10), Stage::Admit);
    }

    #[test]
    fn a_burst_as_large_as_the_table_mostly_fits() {
        // 64 VMAs at a slab's stride (176 to 256 bytes, or a page), all missing at once: at
        // most 8 find their bucket full, whatever the stride.
        for stride in [0xb0, 0xc0, 0xd0, 0x100, 0x1000] {
            let p = Probation::new();
            let busy = (0..64)
                .map(|i| 0xffff_8880_0123_4000 + i * stride)
                .filter(|&a| p.admit(a, Tick(0), 5) == Stage::Busy)
                .count();
            if busy > 8 {
                pr_err!("stride {stride:#x}: {busy} of 64 VMAs found their bucket full\n");
            }
            assert!(busy <= 8);
        }
    }
}
