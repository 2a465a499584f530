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
//!
//! Only VMAs that were stored have an owner record, and the owner records are read under RCU
//! too: freeing a VMA the index never stored (most of them, in a process that maps and unmaps
//! a lot) costs one lockless walk of a small tree, no lock and no store.

use crate::probation::{Probation, Stage, Tick};
use core::ptr::NonNull;
use kernel::{
    alloc::{
        flags::{__GFP_NOWARN, GFP_KERNEL, GFP_KERNEL_ACCOUNT, GFP_NOWAIT},
        Flags,
    },
    maple_tree::rcu::{Entry, RcuMapleTree, Value, Writer},
    mm::virt::VmaRef,
    new_spinlock,
    page::PAGE_SHIFT,
    prelude::*,
    sync::{
        atomic::{ordering::Relaxed, Atomic},
        lock::spinlock::SpinLockGuard,
        rcu, SpinLock,
    },
};

/// The index's allocations: they happen under its spinlock, inside the fault path, so they
/// must not sleep; they are charged to the faulting task's memory cgroup (`__GFP_ACCOUNT`,
/// which `kernel::alloc::flags` spells only inside `GFP_KERNEL_ACCOUNT`).
#[inline]
pub(crate) fn gfp() -> Flags {
    GFP_NOWAIT | __GFP_NOWARN | (GFP_KERNEL_ACCOUNT & !GFP_KERNEL)
}

/// What [`ShadowIndex::fill`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fill {
    /// The range was stored; `pruned` stale overlapping entries were removed first, and
    /// `evicted` entries were removed to stay within the cap.
    Stored { pruned: usize, evicted: usize },
    /// The exact range already pointed at this VMA.
    Present,
    /// The VMA has not proved hot yet (see [`Admission`]): it was not stored, but `pruned`
    /// stale ranges where it is now were removed.
    Probation { pruned: usize },
    /// The index is over a cap that was lowered: `evicted` ranges went (and `pruned` stale
    /// ones), and the range was not stored.
    Full { pruned: usize, evicted: usize },
    /// No memory for a node (`GFP_NOWAIT`): the range was not stored; `pruned` ranges were
    /// removed before the allocation failed. The rest of the index is kept.
    NoMem { pruned: usize },
}

/// When a VMA that missed may enter the index.
///
/// A VMA is stored at a miss that comes at least `after` ticks after its first recorded miss;
/// with `after == 0`, at its first miss. A VMA that lives for one burst of faults (mapped,
/// touched, unmapped) never proves hot, so it costs the writer neither a store nor a removal;
/// a VMA that keeps faulting is stored at its first miss `after` ticks in.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Admission {
    /// The current time.
    pub(crate) now: Tick,
    /// The ticks a VMA waits between its first miss and being stored.
    pub(crate) after: u32,
}

impl Admission {
    /// Store at the first miss.
    #[cfg(CONFIG_KUNIT)]
    pub(crate) const AT_ONCE: Self = Self {
        now: Tick(0),
        after: 0,
    };
}

/// An owner record: what the index knows of a VMA, keyed by its address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Record {
    /// Its range starts at this page number (or did: a fill or an eviction may have removed
    /// it since).
    Indexed(usize),
    /// It first missed at this time, when the first-miss table had no room for it, and is not
    /// stored yet.
    Probation(Tick),
}

impl Record {
    /// A value entry: page numbers and ticks are far below [`Value::MAX`] even shifted by one
    /// for the tag, so every bit is kept.
    fn encode(self) -> Option<Value> {
        match self {
            Record::Indexed(page) => Value::new(page.checked_mul(2)? | 1),
            Record::Probation(t) => Value::new((t.0 as usize) << 1),
        }
    }

    fn decode(v: Value) -> Self {
        let v = v.get();
        if v & 1 != 0 {
            Record::Indexed(v >> 1)
        } else {
            Record::Probation(Tick((v >> 1) as u32))
        }
    }
}

/// A value alone on its cache line(s), so that what lockless readers load is not on the line
/// writers keep writing.
#[pin_data]
#[repr(C, align(64))]
struct Line<T> {
    #[pin]
    v: T,
}

/// A per-mm index of VMAs by range, readable under RCU.
///
/// Generic over the pointee so that the KUnit tests can use stand-in values: the index never
/// dereferences what it stores.
///
/// # Invariants
///
/// `hints` and `owners` are bound to `lock`. `entries` is the number of ranges in `hints`; it
/// and `cursor` change only under `lock`. Every range in `hints` that points at a VMA starts
/// where that VMA's owner record in `owners` says (the start's page number). (A record can
/// outlive its range, which a fill may remove as stale or an eviction as cold: such a record
/// names a start where the VMA is not, is harmless, and goes when the VMA is freed.)
#[pin_data]
pub(crate) struct ShadowIndex<T = VmaRef> {
    /// Read by every lookup.
    #[pin]
    hints: Line<RcuMapleTree<NonNull<T>>>,
    /// Owner records: VMA address -> page number of its range's start.
    #[pin]
    owners: RcuMapleTree<Value>,
    /// Written by every writer. Declared after the trees, so that it is dropped after them.
    #[pin]
    lock: Line<SpinLock<()>>,
    /// First misses of VMAs not stored yet.
    recent: Probation,
    entries: Atomic<usize>,
    /// Where the next eviction looks first: just past the last one.
    cursor: Atomic<usize>,
    /// The module's record of this index while it is live (owned by the module's list).
    pub(crate) owner: Atomic<*mut c_void>,
    /// What the KUnit tests observe and inject; nothing (zero-sized) in other builds.
    #[cfg_attr(not(CONFIG_KUNIT), allow(dead_code))]
    test: Testing,
}

/// The KUnit tests' window into an index.
#[cfg(CONFIG_KUNIT)]
struct Testing {
    /// Times a writer took the lock.
    locks: Atomic<usize>,
    /// Every allocating store fails with `ENOMEM`, as `GFP_NOWAIT` does under memory pressure.
    nomem: Atomic<bool>,
}

#[cfg(CONFIG_KUNIT)]
impl Testing {
    const fn new() -> Self {
        Self {
            locks: Atomic::new(0),
            nomem: Atomic::new(false),
        }
    }
}

/// Without KUnit the index keeps nothing for tests (it must stay one 2 KiB object).
#[cfg(not(CONFIG_KUNIT))]
struct Testing;

#[cfg(not(CONFIG_KUNIT))]
impl Testing {
    const fn new() -> Self {
        Self
    }
}

/// What a forgotten range points to when the tree had no memory to erase it: never a VMA, and
/// never handed out by [`ShadowIndex::lookup`].
fn forgotten<T>() -> NonNull<T> {
    NonNull::dangling()
}

/// `entries - n`, for `n` ranges that were in the tree: `entries` counts them all (type
/// invariant of [`ShadowIndex`]), so it cannot be smaller.
fn fewer(entries: usize, n: usize) -> usize {
    if kernel::warn_on!(n > entries) {
        return 0;
    }
    entries - n
}

/// The most ranges one fill evicts: the index shrinks to a lowered cap over a few fills, and no
/// fill pays for more than a few stores.
const MAX_EVICT: usize = 2;

/// The write side of an index: its lock held, and both trees.
struct Locked<'a, T> {
    hints: Writer<'a, NonNull<T>, true>,
    owners: Writer<'a, Value, true>,
}

impl<T> ShadowIndex<T> {
    /// Creates an empty index for `mm`.
    pub(crate) fn new() -> impl PinInit<Self> {
        // SAFETY: The unsafe operations here are the two trees' `RcuMapleTree::new()`, which bind
        // them to `lock`, and the dereferences of `this` that name it. Fields are initialized in
        // the order written, so `lock` is initialized when the trees are; it is pinned in the
        // same allocation, and it outlives both trees: fields drop in declaration order, and it
        // comes after them.
        unsafe {
            pin_init!(&this in Self {
                lock <- pin_init!(Line { v <- new_spinlock!(()) }),
                hints <- pin_init!(Line { v <- RcuMapleTree::new(&(*this.as_ptr()).lock.v) }),
                owners <- RcuMapleTree::new(&(*this.as_ptr()).lock.v),
                recent: Probation::new(),
                entries: Atomic::new(0),
                cursor: Atomic::new(0),
                owner: Atomic::new(core::ptr::null_mut()),
                test: Testing::new(),
            })
        }
    }

    fn locked<'a>(&'a self, guard: &'a SpinLockGuard<'_, ()>) -> Locked<'a, T> {
        Locked {
            hints: self.hints.v.write(guard),
            owners: self.owners.write(guard),
        }
    }

    /// The candidate for a fault at `addr`, if the index has one. Lockless.
    #[inline]
    pub(crate) fn lookup(&self, addr: usize, rcu: &rcu::Guard) -> Option<NonNull<T>> {
        self.hints.v.load(addr, rcu).filter(|&p| p != forgotten())
    }

    /// Takes the writers' lock.
    fn lock(&self) -> SpinLockGuard<'_, ()> {
        let guard = self.lock.v.lock();
        #[cfg(CONFIG_KUNIT)]
        self.test
            .locks
            .store(self.test.locks.load(Relaxed) + 1, Relaxed);
        guard
    }

    /// Stores into one of the trees with the index's allocation flags.
    fn store<E: Entry>(
        &self,
        w: &mut Writer<'_, E, true>,
        first: usize,
        last: usize,
        value: Option<E>,
    ) -> Result {
        #[cfg(CONFIG_KUNIT)]
        if self.test.nomem.load(Relaxed) {
            return Err(ENOMEM);
        }
        w.store(first, last, value, gfp())
    }

    /// Number of ranges stored.
    pub(crate) fn entries(&self) -> usize {
        self.entries.load(Relaxed)
    }

    /// Learns that `[start, end)` is `vma` (page aligned), which missed. The caller holds `vma`
    /// locked, so the range is true now: the range the VMA had before, if it moved, and any
    /// stored range that overlaps `[start, end)` are stale and are removed whole. A VMA that has
    /// not proved hot (`admit`) is only recorded, but a stale range where it now is goes anyway:
    /// it made this fault miss and would make every later one miss too. An index holding `cap`
    /// ranges or more evicts some first, round-robin through the address space.
    ///
    /// Without memory (`GFP_NOWAIT`), it gives up what it could not do and keeps the rest:
    /// every range it keeps still points at a VMA that has not been forgotten.
    pub(crate) fn fill(
        &self,
        start: usize,
        end: usize,
        vma: NonNull<T>,
        cap: usize,
        admit: Admission,
        rcu: &rcu::Guard,
    ) -> Fill {
        if start >= end {
            return Fill::Present;
        }
        let last = end - 1;
        // Lockless, and first: a VMA waiting out its admission window missed before, and that
        // first miss removed any stale range where it is; until it is admitted a miss changes
        // nothing, so it need not walk the hints or take the lock. Its first miss is in the
        // table or, when its bucket was full of other recent misses (a process that faulted
        // thousands of new VMAs at once), in an owner record. The table is lossy (see
        // `probation`): a VMA that inherits another's record keeps a stale range until it is
        // admitted, which costs misses, never a wrong hint.
        if self.recent.waiting(key(vma), admit.now, admit.after) {
            return Fill::Probation { pruned: 0 };
        }
        // The same for a first miss kept as an owner record: one walk, whose answer the
        // table's stage below reuses (read again under the lock before anything is stored).
        // Every miss not waiting in the table pays it, a VMA's first miss included; it saves
        // the lock on every later miss in the window.
        let owner = self.owners.load(key(vma), rcu).map(Record::decode);
        if let Some(Record::Probation(first)) = owner {
            if admit.after != 0 && admit.now.0.wrapping_sub(first.0) < admit.after {
                return Fill::Probation { pruned: 0 };
            }
        }
        // Lockless: the exact range already stored (a fault retried under `mmap_lock` after
        // `VM_FAULT_RETRY`, or two threads missing at once) needs no lock.
        let (at_start, at_last) = (self.hints.v.load(start, rcu), self.hints.v.load(last, rcu));
        if at_start == Some(vma) && at_last == Some(vma) && self.exact(start, last, vma, rcu) {
            return Fill::Present;
        }
        // Another VMA's range (or a forgotten one) where this VMA now is: a split, a move.
        let stale = at_start.is_some_and(|p| p != vma) || at_last.is_some_and(|p| p != vma);
        // Lockless: most VMAs on probation never get further.
        let stage = self.recent.admit(key(vma), admit.now, admit.after);
        match stage {
            Stage::Wait => return self.probation(start, last, stale),
            Stage::Recorded | Stage::Displaced { .. } => {
                if let Stage::Displaced { key, first_miss } = stage {
                    self.keep_first_miss(key, first_miss);
                }
                // New to the table; unless the index recorded an earlier miss (when the table
                // was full), that is all.
                if owner.is_none() {
                    return self.probation(start, last, stale);
                }
                self.recent.forget(key(vma));
            }
            Stage::Admit | Stage::Busy => {}
        }
        let guard = self.lock();
        let mut t = self.locked(&guard);
        let mut entries = self.entries.load(Relaxed);
        let mut pruned = 0;

        match t.owners.load(key(vma)).map(Record::decode) {
            Some(Record::Indexed(page)) => {
                let old = page << PAGE_SHIFT;
                if let Some((first, l, p)) = t.hints.find(old, old) {
                    if p == vma && first == old {
                        if first == start && l == last {
                            return Fill::Present;
                        }
                        // Without memory the old range stays: it points at this VMA, which
                        // is locked and alive, so it is only a hint that will miss.
                        if self.store(&mut t.hints, first, l, None).is_err() {
                            return Fill::NoMem { pruned };
                        }
                        entries = fewer(entries, 1);
                        pruned += 1;
                    }
                }
            }
            Some(Record::Probation(first_miss)) if stage != Stage::Admit => {
                if admit.now.0.wrapping_sub(first_miss.0) < admit.after {
                    let stale = self.prune(&mut t, start, last, &mut entries);
                    // INVARIANT: Updated under the lock.
                    self.entries.store(entries, Relaxed);
                    return stale.map_or(Fill::NoMem { pruned }, |n| Fill::Probation { pruned: n });
                }
            }
            None if stage != Stage::Admit => {
                // No room in the table: record the first miss here. Without memory for the
                // record the VMA just stays out; the next miss retries.
                if let Some(v) = Record::Probation(admit.now).encode() {
                    let _ = self.store(&mut t.owners, key(vma), key(vma), Some(v));
                }
                let stale = self.prune(&mut t, start, last, &mut entries);
                // INVARIANT: Updated under the lock.
                self.entries.store(entries, Relaxed);
                return stale.map_or(Fill::NoMem { pruned }, |n| Fill::Probation { pruned: n });
            }
            // Admitted by the table.
            _ => {}
        }

        let Ok(n) = self.prune(&mut t, start, last, &mut entries) else {
            // INVARIANT: Updated under the lock.
            self.entries.store(entries, Relaxed);
            return Fill::NoMem { pruned };
        };
        pruned += n;

        let mut evicted = 0;
        let mut nomem = false;
        while entries >= cap && evicted < MAX_EVICT {
            match self.evict_one(&mut t) {
                Ok(true) => {
                    entries = fewer(entries, 1);
                    evicted += 1;
                }
                Ok(false) => break,
                Err(_) => {
                    nomem = true;
                    break;
                }
            }
        }
        // INVARIANT: Updated under the lock, before anything else can fail.
        self.entries.store(entries, Relaxed);
        if nomem {
            return Fill::NoMem {
                pruned: pruned + evicted,
            };
        }
        if entries >= cap {
            // Still full (the cap was lowered): the VMA stays out this time.
            return Fill::Full { pruned, evicted };
        }
        // The record first: a range must never point at a VMA whose record is elsewhere. A
        // page number always fits a value entry. Each store either happens whole or not at all:
        // if the record is stored and the range is not, the record names a start with no
        // range of this VMA, which is harmless (see the type invariant).
        let page = Record::Indexed(start >> PAGE_SHIFT).encode();
        if page.is_none()
            || self.store(&mut t.owners, key(vma), key(vma), page).is_err()
            || self.store(&mut t.hints, start, last, Some(vma)).is_err()
        {
            return Fill::NoMem {
                pruned: pruned + evicted,
            };
        }
        // INVARIANT: Updated under the lock.
        self.entries.store(entries + 1, Relaxed);
        Fill::Stored { pruned, evicted }
    }

    /// Whether the range stored at `[start, last]`, which points at `vma` at both ends, is
    /// exactly that range: a VMA has one range, so it is if neither neighbour is `vma` too.
    fn exact(&self, start: usize, last: usize, vma: NonNull<T>, rcu: &rcu::Guard) -> bool {
        let before = start.checked_sub(1).and_then(|a| self.hints.v.load(a, rcu));
        let after = last.checked_add(1).and_then(|a| self.hints.v.load(a, rcu));
        before != Some(vma) && after != Some(vma)
    }

    /// The VMA at `[start, last]` stays out of the index for now; a stale range there, if the
    /// lockless look saw one, goes.
    fn probation(&self, start: usize, last: usize, stale: bool) -> Fill {
        if !stale {
            return Fill::Probation { pruned: 0 };
        }
        let guard = self.lock();
        let mut t = self.locked(&guard);
        let mut entries = self.entries.load(Relaxed);
        let pruned = self.prune(&mut t, start, last, &mut entries);
        // INVARIANT: Updated under the lock.
        self.entries.store(entries, Relaxed);
        match pruned {
            Ok(pruned) => Fill::Probation { pruned },
            Err(_) => Fill::NoMem { pruned: 0 },
        }
    }

    /// Removes, whole, every range that overlaps `[start, last]`, and takes them off
    /// `entries`; returns how many. Without memory it removes none of them.
    fn prune(
        &self,
        t: &mut Locked<'_, T>,
        start: usize,
        last: usize,
        entries: &mut usize,
    ) -> Result<usize> {
        // The ranges overlapping [start, last] are disjoint from each other, so they and the
        // gaps between them exactly tile [lo, hi].
        let (mut lo, mut hi, mut overlapping) = (start, last, 0);
        let mut at = start;
        while let Some((first, l, _)) = t.hints.find(at, last) {
            lo = lo.min(first);
            hi = hi.max(l);
            overlapping += 1;
            match l.checked_add(1) {
                Some(next) if next <= last => at = next,
                _ => break,
            }
        }
        if overlapping > 0 {
            self.store(&mut t.hints, lo, hi, None)?;
            *entries = fewer(*entries, overlapping);
        }
        Ok(overlapping)
    }

    /// Keeps, as an owner record, the first miss of the VMA at `vma`, which the probation
    /// table gave up for a newer one. Needs the lock, like any owner record; paid once per VMA
    /// that missed once and then stayed cold for the admission window.
    ///
    /// Unlike every other record it is stored under another VMA's lock, not its own: if its
    /// VMA is being freed meanwhile, `forget` may look before it lands, and it stays behind. Such
    /// a record names no range; at worst a VMA allocated later at that address skips its
    /// probation, and its `forget` removes the record.
    fn keep_first_miss(&self, vma: usize, first_miss: Tick) {
        let Some(v) = Record::Probation(first_miss).encode() else {
            return;
        };
        let guard = self.lock();
        let mut t = self.locked(&guard);
        if t.owners.load(vma).is_none() {
            // Without memory, the first miss is lost: the VMA starts its probation again.
            let _ = self.store(&mut t.owners, vma, vma, Some(v));
        }
    }

    /// Removes the first range at or after the cursor (wrapping around), and moves the cursor
    /// past it. `Ok(false)` if the index is empty.
    fn evict_one(&self, t: &mut Locked<'_, T>) -> Result<bool> {
        let cursor = self.cursor.load(Relaxed);
        let found = t
            .hints
            .find(cursor, usize::MAX)
            .or_else(|| t.hints.find(0, usize::MAX));
        let Some((first, last, _)) = found else {
            return Ok(false);
        };
        self.store(&mut t.hints, first, last, None)?;
        // INVARIANT: Under the lock.
        self.cursor.store(last.wrapping_add(1), Relaxed);
        Ok(true)
    }

    /// Removes the range pointing at `vma`, which is about to be freed, and its record. Returns
    /// how many ranges it removed (0 or 1).
    ///
    /// Runs for every VMA freed in an mm with an index. A VMA that was never stored nor
    /// recorded in the owner records costs one lockless walk of them, and no lock. It needs no
    /// memory to drop the range: if the tree has none for the erase, the range is overwritten
    /// in place with [`FORGOTTEN`], which lookups treat as no range.
    pub(crate) fn forget(&self, vma: NonNull<T>, rcu: &rcu::Guard) -> usize {
        self.recent.forget(key(vma));
        // A record is stored by `fill`, under the VMA's lock, which the VMA's free waits for:
        // a VMA being freed either has its record visible here or never had one. (But for a
        // first miss moved out of the probation table, which may land late and stay behind:
        // see `keep_first_miss`.)
        if self.owners.load(key(vma), rcu).is_none() {
            return 0;
        }
        let guard = self.lock();
        let mut t = self.locked(&guard);
        let Some(record) = t.owners.load(key(vma)).map(Record::decode) else {
            return 0;
        };
        let entries = self.entries.load(Relaxed);
        let mut removed = 0;
        let range = match record {
            Record::Indexed(page) => t.hints.find(page << PAGE_SHIFT, page << PAGE_SHIFT),
            Record::Probation(_) => None,
        };
        if let Some((f, l, p)) = range {
            if p == vma {
                if self.store(&mut t.hints, f, l, None).is_err() {
                    // Overwriting an existing range with an entry of the same bounds writes
                    // one slot in place: no node, so no memory. It stays counted in `entries`
                    // (it occupies a range) until a fill prunes it or an eviction takes it.
                    if t.hints.store(f, l, Some(forgotten()), GFP_NOWAIT).is_err() {
                        // Never expected. The index must never keep a pointer to a VMA past
                        // its free: drop everything.
                        kernel::warn_on!(true);
                        return self.empty(&mut t, entries);
                    }
                    let _ = self.store(&mut t.owners, key(vma), key(vma), None);
                    return 1;
                }
                removed = 1;
            }
        }
        // Without memory to rebalance, the record stays: harmless, since no range points at
        // this address any more, so a VMA allocated here later finds no range of its own where
        // the record says (and at worst skips its probation).
        let _ = self.store(&mut t.owners, key(vma), key(vma), None);
        // INVARIANT: Updated under the lock.
        self.entries.store(fewer(entries, removed), Relaxed);
        removed
    }
    /// Removes everything; returns how many ranges were dropped. Needs no memory. (A dropped
    /// index's trees destroy themselves; only the tests empty a live one.)
    #[cfg(CONFIG_KUNIT)]
    pub(crate) fn clear(&self) -> usize {
        let guard = self.lock();
        let mut t = self.locked(&guard);
        let entries = self.entries.load(Relaxed);
        self.empty(&mut t, entries)
    }

    /// Empties both trees; returns how many ranges were dropped.
    fn empty(&self, t: &mut Locked<'_, T>, entries: usize) -> usize {
        t.hints.clear();
        t.owners.clear();
        // INVARIANT: Updated under the lock.
        self.entries.store(0, Relaxed);
        entries
    }
}

/// The owner-record key of a VMA: its address.
fn key<T>(vma: NonNull<T>) -> usize {
    vma.as_ptr() as usize
}

#[kunit_tests(vmashadow_index)]
mod tests {
    use super::*;

    /// Store at the first miss.
    const NOW: Admission = Admission::AT_ONCE;

    /// Stand-in VMA pointers: the index never dereferences what it stores.
    fn fake(n: usize) -> NonNull<u64> {
        NonNull::new((0x1000 * n) as *mut u64).unwrap()
    }

    fn index() -> Result<Pin<KBox<ShadowIndex<u64>>>> {
        KBox::pin_init(ShadowIndex::new(), GFP_KERNEL)
    }

    fn at(idx: &ShadowIndex<u64>, addr: usize) -> Option<NonNull<u64>> {
        idx.lookup(addr, &rcu::read_lock())
    }

    fn fill(
        idx: &ShadowIndex<u64>,
        start: usize,
        end: usize,
        vma: NonNull<u64>,
        cap: usize,
        admit: Admission,
    ) -> Fill {
        idx.fill(start, end, vma, cap, admit, &rcu::read_lock())
    }

    fn forget(idx: &ShadowIndex<u64>, vma: NonNull<u64>) -> usize {
        idx.forget(vma, &rcu::read_lock())
    }

    #[test]
    fn fill_then_lookup() -> Result {
        let idx = index()?;
        assert_eq!(at(&idx, 0x10000), None);
        assert_eq!(
            fill(&idx, 0x10000, 0x20000, fake(1), 16, NOW),
            Fill::Stored {
                pruned: 0,
                evicted: 0
            }
        );
        assert_eq!(at(&idx, 0x10000), Some(fake(1)));
        assert_eq!(at(&idx, 0x1ffff), Some(fake(1)));
        assert_eq!(at(&idx, 0x20000), None);
        assert_eq!(at(&idx, 0xffff), None);
        assert_eq!(idx.entries(), 1);
        // The same range again is a no-op.
        assert_eq!(
            fill(&idx, 0x10000, 0x20000, fake(1), 16, NOW),
            Fill::Present
        );
        assert_eq!(idx.entries(), 1);
        Ok(())
    }

    #[test]
    fn overlap_replaces_stale_ranges_whole() -> Result {
        let idx = index()?;
        fill(&idx, 0x10000, 0x20000, fake(1), 16, NOW);
        fill(&idx, 0x20000, 0x30000, fake(2), 16, NOW);
        fill(&idx, 0x40000, 0x50000, fake(3), 16, NOW);
        assert_eq!(idx.entries(), 3);
        // A VMA that now spans the first two (they merged): both go, whole.
        assert_eq!(
            fill(&idx, 0x18000, 0x28000, fake(4), 16, NOW),
            Fill::Stored {
                pruned: 2,
                evicted: 0
            }
        );
        assert_eq!(at(&idx, 0x10000), None);
        assert_eq!(at(&idx, 0x18000), Some(fake(4)));
        assert_eq!(at(&idx, 0x27fff), Some(fake(4)));
        assert_eq!(at(&idx, 0x28000), None);
        assert_eq!(at(&idx, 0x40000), Some(fake(3)));
        assert_eq!(idx.entries(), 2);
        // Same range, another VMA (replaced in place).
        assert_eq!(
            fill(&idx, 0x18000, 0x28000, fake(5), 16, NOW),
            Fill::Stored {
                pruned: 1,
                evicted: 0
            }
        );
        assert_eq!(at(&idx, 0x18000), Some(fake(5)));
        assert_eq!(idx.entries(), 2);
        Ok(())
    }

    #[test]
    fn a_vma_that_moved_keeps_one_range() -> Result {
        let idx = index()?;
        fill(&idx, 0x10000, 0x20000, fake(1), 16, NOW);
        fill(&idx, 0x30000, 0x40000, fake(2), 16, NOW);
        // VMA 1 moved in place (split, merge, mremap) to a range away from its old one.
        assert_eq!(
            fill(&idx, 0x50000, 0x60000, fake(1), 16, NOW),
            Fill::Stored {
                pruned: 1,
                evicted: 0
            }
        );
        assert_eq!(at(&idx, 0x10000), None);
        assert_eq!(at(&idx, 0x50000), Some(fake(1)));
        assert_eq!(idx.entries(), 2);
        assert_eq!(forget(&idx, fake(1)), 1);
        assert_eq!(at(&idx, 0x50000), None);
        assert_eq!(at(&idx, 0x30000), Some(fake(2)));
        assert_eq!(idx.entries(), 1);
        assert_eq!(forget(&idx, fake(7)), 0);
        assert_eq!(idx.entries(), 1);
        Ok(())
    }

    #[test]
    fn forget_after_prune_and_address_reuse() -> Result {
        let idx = index()?;
        fill(&idx, 0x10000, 0x20000, fake(1), 16, NOW);
        // VMA 2 now covers that range: VMA 1's range goes, its record stays.
        assert_eq!(
            fill(&idx, 0x10000, 0x20000, fake(2), 16, NOW),
            Fill::Stored {
                pruned: 1,
                evicted: 0
            }
        );
        // Freeing VMA 1 must not take VMA 2's range with it.
        assert_eq!(forget(&idx, fake(1)), 0);
        assert_eq!(at(&idx, 0x10000), Some(fake(2)));
        // A new VMA at VMA 1's address, elsewhere.
        assert_eq!(
            fill(&idx, 0x40000, 0x41000, fake(1), 16, NOW),
            Fill::Stored {
                pruned: 0,
                evicted: 0
            }
        );
        assert_eq!(forget(&idx, fake(1)), 1);
        assert_eq!(forget(&idx, fake(2)), 1);
        assert_eq!(idx.entries(), 0);
        assert_eq!(at(&idx, 0x10000), None);
        Ok(())
    }

    #[test]
    fn many_ranges_forgotten_one_by_one() -> Result {
        let idx = index()?;
        // Enough ranges (and owner records) for three levels of both trees (16 x 16 < 300),
        // and few enough to keep every insmod's KUnit run short.
        let n = 300;
        for i in 0..n {
            let start = 0x100000 + i * 0x2000;
            assert_eq!(
                fill(&idx, start, start + 0x1000, fake(i + 1), 1024, NOW),
                Fill::Stored {
                    pruned: 0,
                    evicted: 0
                }
            );
        }
        assert_eq!(idx.entries(), n);
        // Every other one, then the rest: the trees shrink from the middle.
        for i in Iterator::chain((0..n).step_by(2), (1..n).step_by(2)) {
            assert_eq!(forget(&idx, fake(i + 1)), 1);
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
            fill(&idx, start, start + 0x1000, fake(i + 1), 1024, NOW);
        }
        assert_eq!(idx.entries(), 120);
        assert_eq!(idx.clear(), 120);
        rcu::rcu_barrier();
        assert_eq!(at(&idx, 0x100000), None);
        Ok(())
    }

    #[test]
    fn cap_evicts_round_robin() -> Result {
        let idx = index()?;
        for i in 0..4 {
            let start = 0x100000 + i * 0x10000;
            assert_eq!(
                fill(&idx, start, start + 0x1000, fake(i + 1), 4, NOW),
                Fill::Stored {
                    pruned: 0,
                    evicted: 0
                }
            );
        }
        assert_eq!(idx.entries(), 4);
        // Full: the lowest range goes, the rest stay.
        assert_eq!(
            fill(&idx, 0x900000, 0x901000, fake(9), 4, NOW),
            Fill::Stored {
                pruned: 0,
                evicted: 1
            }
        );
        assert_eq!(idx.entries(), 4);
        assert_eq!(at(&idx, 0x100000), None);
        assert_eq!(at(&idx, 0x110000), Some(fake(2)));
        assert_eq!(at(&idx, 0x900000), Some(fake(9)));
        // Then the next one after it, not the newest.
        assert_eq!(
            fill(&idx, 0x100000, 0x101000, fake(1), 4, NOW),
            Fill::Stored {
                pruned: 0,
                evicted: 1
            }
        );
        assert_eq!(at(&idx, 0x110000), None);
        assert_eq!(at(&idx, 0x120000), Some(fake(3)));
        assert_eq!(at(&idx, 0x900000), Some(fake(9)));
        // An evicted VMA's record is harmless: its free removes nothing else.
        assert_eq!(forget(&idx, fake(2)), 0);
        assert_eq!(idx.entries(), 4);
        // A lowered cap shrinks the index a few ranges per fill, never below what it allows.
        assert_eq!(
            fill(&idx, 0xa00000, 0xa01000, fake(10), 1, NOW),
            Fill::Full {
                pruned: 0,
                evicted: 2
            }
        );
        assert_eq!(idx.entries(), 2);
        assert_eq!(
            fill(&idx, 0xa00000, 0xa01000, fake(10), 1, NOW),
            Fill::Stored {
                pruned: 0,
                evicted: 2
            }
        );
        assert_eq!(idx.entries(), 1);
        assert_eq!(at(&idx, 0xa00000), Some(fake(10)));
        Ok(())
    }

    #[test]
    fn clear_and_empty_ranges() -> Result {
        let idx = index()?;
        assert_eq!(fill(&idx, 0x5000, 0x5000, fake(1), 4, NOW), Fill::Present);
        assert_eq!(idx.entries(), 0);
        fill(&idx, 0x10000, 0x20000, fake(1), 4, NOW);
        fill(&idx, usize::MAX - 0xfff, usize::MAX, fake(2), 4, NOW);
        assert_eq!(at(&idx, usize::MAX - 1), Some(fake(2)));
        assert_eq!(idx.clear(), 2);
        assert_eq!(idx.entries(), 0);
        assert_eq!(at(&idx, 0x10000), None);
        Ok(())
    }

    #[test]
    fn a_vma_is_stored_once_it_proved_hot() -> Result {
        let idx = index()?;
        let at_t = |now| Admission {
            now: Tick(now),
            after: 3,
        };
        // First miss: recorded in the table, not stored.
        assert_eq!(
            fill(&idx, 0x10000, 0x20000, fake(1), 16, at_t(100)),
            Fill::Probation { pruned: 0 }
        );
        assert_eq!(at(&idx, 0x10000), None);
        assert_eq!(idx.entries(), 0);
        // Too soon.
        assert_eq!(
            fill(&idx, 0x10000, 0x20000, fake(1), 16, at_t(102)),
            Fill::Probation { pruned: 0 }
        );
        // Long enough after its first miss.
        assert_eq!(
            fill(&idx, 0x10000, 0x20000, fake(1), 16, at_t(103)),
            Fill::Stored {
                pruned: 0,
                evicted: 0
            }
        );
        assert_eq!(at(&idx, 0x10000), Some(fake(1)));
        // A VMA freed on probation leaves nothing behind.
        assert_eq!(
            fill(&idx, 0x50000, 0x60000, fake(3), 16, at_t(5)),
            Fill::Probation { pruned: 0 }
        );
        assert_eq!(forget(&idx, fake(3)), 0);
        assert_eq!(idx.entries(), 1);
        Ok(())
    }

    #[test]
    fn cold_first_misses_make_room_for_short_lived_vmas() -> Result {
        let idx = index()?;
        let at_t = |now| Admission {
            now: Tick(now),
            after: 3,
        };
        // Cold VMAs that missed once, more than the table has slots: it fills up.
        let cold = 160;
        let addr = |i: usize| 0x100_0000 + i * 0x2000;
        for i in 1..=cold {
            assert_eq!(
                fill(&idx, addr(i), addr(i) + 0x1000, fake(i), 1 << 20, at_t(10)),
                Fill::Probation { pruned: 0 }
            );
        }
        let records = |idx: &ShadowIndex<u64>| {
            let rcu = rcu::read_lock();
            (1..=cold + 64)
                .filter(|&i| idx.owners.load(key(fake(i)), &rcu).is_some())
                .count()
        };
        let before = records(&idx);
        // Long after, short-lived VMAs come and go: each takes a cold record's slot (which
        // becomes an owner record, once), and leaves no record of its own.
        for round in 0..4 {
            for j in 1..=64 {
                let i = cold + j;
                let t = 20 + round;
                assert_eq!(
                    fill(&idx, addr(i), addr(i) + 0x1000, fake(i), 1 << 20, at_t(t)),
                    Fill::Probation { pruned: 0 }
                );
                assert_eq!(forget(&idx, fake(i)), 0);
            }
        }
        assert!(records(&idx) <= before + 64);
        // No short-lived VMA kept a record.
        let rcu = rcu::read_lock();
        assert!((cold + 1..=cold + 64).all(|i| idx.owners.load(key(fake(i)), &rcu).is_none()));
        drop(rcu);
        // And every cold VMA kept its first miss: stored at its second.
        for i in 1..=cold {
            assert!(matches!(
                fill(&idx, addr(i), addr(i) + 0x1000, fake(i), 1 << 20, at_t(30)),
                Fill::Stored { .. }
            ));
        }
        assert_eq!(idx.entries(), cold);
        Ok(())
    }

    #[test]
    fn many_vmas_on_probation_at_once_are_not_throttled() -> Result {
        let idx = index()?;
        let at_t = |now| Admission {
            now: Tick(now),
            after: 3,
        };
        // More VMAs than the table has slots, missing round-robin: the table takes some,
        // owner records the rest, and all are stored at their first miss 3 ticks in.
        let n = 160;
        for now in [10, 11, 12] {
            let before = locks(&idx);
            for i in 1..=n {
                let a = 0x100_0000 + i * 0x2000;
                assert_eq!(
                    fill(&idx, a, a + 0x1000, fake(i), 1 << 20, at_t(now)),
                    Fill::Probation { pruned: 0 }
                );
            }
            // Inside the window, a miss waits without the lock wherever its first miss is,
            // in the table or (its bucket full of others' recent misses) an owner record.
            if now > 10 {
                assert_eq!(locks(&idx), before);
            }
        }
        assert_eq!(idx.entries(), 0);
        for i in 1..=n {
            let a = 0x100_0000 + i * 0x2000;
            assert!(matches!(
                fill(&idx, a, a + 0x1000, fake(i), 1 << 20, at_t(13)),
                Fill::Stored { .. }
            ));
        }
        assert_eq!(idx.entries(), n);
        for i in 1..=n {
            assert_eq!(forget(&idx, fake(i)), 1);
        }
        assert_eq!(idx.entries(), 0);
        Ok(())
    }

    /// The cache lines a value at `p` covers.
    fn lines<U>(p: &U) -> core::ops::RangeInclusive<usize> {
        // x86's L1_CACHE_BYTES, which `Line` aligns to.
        const LINE: usize = 64;
        let a = core::ptr::from_ref(p) as usize;
        a / LINE..=(a + core::mem::size_of::<U>() - 1) / LINE
    }

    #[test]
    fn lookups_read_no_line_that_writers_write() -> Result {
        let idx = index()?;
        let read = lines(&idx.hints.v);
        // What fills, forgets and first misses write, beside the tree they change.
        for (what, w) in [
            ("lock", lines(&idx.lock.v)),
            ("owners", lines(&idx.owners)),
            ("recent", lines(&idx.recent)),
            ("entries", lines(&idx.entries)),
            ("cursor", lines(&idx.cursor)),
            ("owner", lines(&idx.owner)),
            ("test", lines(&idx.test)),
        ] {
            if w.start() <= read.end() && read.start() <= w.end() {
                pr_err!("{what} shares a cache line with the lookup's tree\n");
                return Err(EINVAL);
            }
        }
        Ok(())
    }

    #[test]
    fn records_keep_every_bit() -> Result {
        for r in [
            Record::Indexed(0),
            Record::Indexed(usize::MAX >> PAGE_SHIFT),
            Record::Indexed(0x7fff_ffff_f000 >> PAGE_SHIFT),
            Record::Probation(Tick(0)),
            Record::Probation(Tick(u32::MAX)),
        ] {
            let v = r.encode().ok_or(EINVAL)?;
            assert_eq!(Record::decode(v), r);
        }
        Ok(())
    }

    /// Every allocating store of `idx` fails from now on (`on`), or none does.
    fn nomem(idx: &ShadowIndex<u64>, on: bool) {
        idx.test.nomem.store(on, Relaxed);
    }

    fn locks(idx: &ShadowIndex<u64>) -> usize {
        idx.test.locks.load(Relaxed)
    }

    /// A VMA split by `mprotect()`: [a,b) -> X is stored, then N = [m,b) misses while it is on
    /// probation. X's range there is stale and must go at N's first miss, not stay for the
    /// whole admission window (every fault in [m,b) would hit X, fail validation, and miss).
    #[test]
    fn probation_drops_the_stale_range_that_missed() -> Result {
        let idx = index()?;
        fill(&idx, 0x10000, 0x20000, fake(1), 16, NOW);
        let later = Admission {
            now: Tick(100),
            after: 3,
        };
        assert_eq!(
            fill(&idx, 0x18000, 0x20000, fake(2), 16, later),
            Fill::Probation { pruned: 1 }
        );
        assert_eq!(at(&idx, 0x18000), None);
        assert_eq!(at(&idx, 0x10000), None);
        assert_eq!(idx.entries(), 0);
        // X comes back at its first miss: it had been stored, so it skips probation.
        assert_eq!(
            fill(&idx, 0x10000, 0x18000, fake(1), 16, later),
            Fill::Stored {
                pruned: 0,
                evicted: 0
            }
        );
        // N's next miss, still on probation, finds nothing stale: no lock.
        let before = locks(&idx);
        assert_eq!(
            fill(&idx, 0x18000, 0x20000, fake(2), 16, later),
            Fill::Probation { pruned: 0 }
        );
        assert_eq!(locks(&idx), before);
        assert_eq!(at(&idx, 0x10000), Some(fake(1)));
        Ok(())
    }

    /// A fill for a VMA whose exact range is stored (a fault retried under `mmap_lock`) takes
    /// no lock; one whose stored range is wider does.
    #[test]
    fn a_fill_of_a_stored_range_takes_no_lock() -> Result {
        let idx = index()?;
        fill(&idx, 0x10000, 0x20000, fake(1), 16, NOW);
        fill(&idx, 0x20000, 0x30000, fake(2), 16, NOW);
        let before = locks(&idx);
        assert_eq!(
            fill(&idx, 0x10000, 0x20000, fake(1), 16, NOW),
            Fill::Present
        );
        assert_eq!(
            fill(&idx, 0x20000, 0x30000, fake(2), 16, NOW),
            Fill::Present
        );
        assert_eq!(locks(&idx), before);
        // VMA 1 shrank in place to [0x10000, 0x18000): its stored range is wider.
        assert_eq!(
            fill(&idx, 0x10000, 0x18000, fake(1), 16, NOW),
            Fill::Stored {
                pruned: 1,
                evicted: 0
            }
        );
        assert_eq!(locks(&idx), before + 1);
        assert_eq!(at(&idx, 0x18000), None);
        Ok(())
    }

    /// Without memory, `forget` still drops the range (it overwrites it in place) and keeps
    /// every other; a failed fill keeps what it did not have to drop.
    #[test]
    fn no_memory_keeps_the_index() -> Result {
        let idx = index()?;
        for i in 1..=3 {
            fill(&idx, 0x10000 * i, 0x10000 * (i + 1), fake(i), 16, NOW);
        }
        nomem(&idx, true);
        assert_eq!(forget(&idx, fake(2)), 1);
        assert_eq!(at(&idx, 0x20000), None);
        assert_eq!(at(&idx, 0x10000), Some(fake(1)));
        assert_eq!(at(&idx, 0x30000), Some(fake(3)));
        // A new VMA where the forgotten one was: nothing stored, nothing lost.
        assert_eq!(
            fill(&idx, 0x20000, 0x30000, fake(4), 16, NOW),
            Fill::NoMem { pruned: 0 }
        );
        assert_eq!(at(&idx, 0x10000), Some(fake(1)));
        assert_eq!(at(&idx, 0x30000), Some(fake(3)));
        assert_eq!(at(&idx, 0x20000), None);
        // VMA 1 moved: its old range cannot be erased, so it is not stored elsewhere either.
        assert_eq!(
            fill(&idx, 0x50000, 0x60000, fake(1), 16, NOW),
            Fill::NoMem { pruned: 0 }
        );
        assert_eq!(at(&idx, 0x50000), None);
        assert_eq!(at(&idx, 0x30000), Some(fake(3)));
        nomem(&idx, false);
        // With memory again the forgotten range is pruned like any stale one.
        assert_eq!(
            fill(&idx, 0x20000, 0x30000, fake(4), 16, NOW),
            Fill::Stored {
                pruned: 1,
                evicted: 0
            }
        );
        assert_eq!(at(&idx, 0x20000), Some(fake(4)));
        assert_eq!(forget(&idx, fake(1)), 1);
        assert_eq!(forget(&idx, fake(3)), 1);
        assert_eq!(forget(&idx, fake(4)), 1);
        assert_eq!(idx.entries(), 0);
        Ok(())
    }
}

#[kunit_tests(vmashadow_rcu_box)]
mod rcu_box_tests {
    use kernel::{
        prelude::*,
        sync::{
            atomic::{ordering::Relaxed, Atomic},
            rcu::{self, RcuBox},
        },
    };

    static DROPS: Atomic<usize> = Atomic::new(0);

    struct Counted(usize);

    impl Drop for Counted {
        fn drop(&mut self) {
            DROPS.fetch_add(self.0, Relaxed);
        }
    }

    /// An index retired under RCU (its mm exiting) must not be dropped while a reader that
    /// found it may still use it: the destructor would get `&mut` while readers hold `&`.
    #[test]
    fn dropped_only_after_a_grace_period() -> Result {
        let before = DROPS.load(Relaxed);
        let b = RcuBox::new(Counted(1), GFP_KERNEL)?;
        let reader = rcu::read_lock();
        drop(b);
        // No grace period can end while this CPU is in a read-side critical section.
        assert_eq!(DROPS.load(Relaxed), before);
        drop(reader);
        RcuBox::<Counted>::barrier();
        assert_eq!(DROPS.load(Relaxed), before + 1);
        Ok(())
    }
}
