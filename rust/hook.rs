// SPDX-License-Identifier: GPL-2.0

//! The fault path's side: [`Shadow`], the hook the core's fault VMA lookup calls, the per-mm
//! index each mm keeps in its hook data, and [`Hook`], the registration that mode switches
//! steer.
//!
//! Lifetimes, in one place:
//! - An index is created only by [`Shadow::fill`], for the faulting task's own mm (so the mm
//!   has users and cannot be torn down meanwhile), when the first of its VMAs is admitted
//!   (see [`crate::probation`]). It is published in the mm's hook data and recorded in
//!   [`REGISTRY`], both under the registry lock.
//! - It is retired either by [`Shadow::release`] when its mm exits, or by [`Shadow::drain`]
//!   when the module unloads. Both unpublish it and unlink it from the registry under the
//!   registry lock, so exactly one of them retires it, and an index still in the registry
//!   proves its mm has not finished exiting. Both are O(1) per index under the lock, with no
//!   allocation. The index itself is dropped (its trees emptied, its nodes freed) a grace
//!   period later, in process context ([`RcuBox`]): lockless readers that found it before it
//!   was unpublished never see it change under their `&` or freed; module exit waits for the
//!   last such drop ([`RcuBox::barrier`]).
//! - Unregistering (dropping the [`Hook`]) stops [`Shadow::lookup`] and [`Shadow::fill`], waits
//!   for a grace period, calls [`Shadow::drain`] while [`Shadow::forget`] and
//!   [`Shadow::release`] still run, and only then stops those.
//!
//! # Locking
//!
//! Outer to inner:
//! 1. the [`Hook`]'s mutex (mode switches, which patch code and may sleep), alone, in process
//!    context;
//! 2. the core's `mmap_lock` or VMA lock (around `fill` and `forget`);
//! 3. either [`REGISTRY`] (create, release, drain, census) or one index's lock (fill, forget,
//!    and the drop of a retired index, in a workqueue); never both.

use crate::{
    knobs,
    mode::Mode,
    probation::Tick,
    shadow_index::{gfp, Admission, Fill, ShadowIndex},
    stats::{self, Event},
};
use kernel::{
    list::{impl_list_arc_safe, impl_list_item, List, ListArc, ListLinks},
    mm::{
        fault_hook::{self, Answer, FaultVmaHook, FillLock, Registration, VmaHint},
        virt::VmaRef,
        Mm, MmWithUser,
    },
    new_mutex,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{
            ordering::{Acquire, Relaxed, Release},
            Atomic,
        },
        global_lock, rcu,
        rcu::RcuBox,
        Mutex,
    },
    time::{jiffies, Delta},
};

type Index = ShadowIndex<VmaRef>;

// A process's index is one kmalloc-2k object, with the work item that drops it a grace period
// after it is retired (64 bytes before it, in `RcuBox`); lock debugging makes the lock, the work
// item and so the index bigger.
const _: () = assert!(
    core::mem::size_of::<Index>() + 64
        <= if cfg!(CONFIG_DEBUG_LOCK_ALLOC) {
            4096
        } else {
            2048
        }
);

/// A live index: published in its mm's hook data and linked into [`REGISTRY`].
#[pin_data]
struct Live {
    index: RcuBox<Index>,
    /// Keeps the `mm_struct` (not its address space) alive, so that `drain` can clear its hook
    /// data whenever it runs.
    mm: ARef<Mm>,
    #[pin]
    links: ListLinks,
}

impl_list_arc_safe! {
    impl ListArcSafe<0> for Live { untracked; }
}
impl_list_item! {
    impl ListItem<0> for Live { using ListLinks { self.links }; }
}

/// Every live index, and how many there are.
struct Registry {
    live: List<Live>,
    count: usize,
}

global_lock! {
    // SAFETY: Initialized by `register()`, once, before anything can lock it (see there).
    //
    // Linking and unlinking an index is O(1) and allocates nothing, whatever the number of
    // processes: the links are in the `Live` record, allocated before the lock is taken.
    unsafe(uninit) static REGISTRY: SpinLock<Registry> = Registry {
        live: List::new(),
        count: 0,
    };
}

/// Whether the faulting process started less than `min_age_ms` ago.
fn young() -> bool {
    let ms = knobs::min_age_ms();
    ms != 0
        && kernel::current!().group_leader().start_time().elapsed() < Delta::from_millis(ms.into())
}

/// The index published in `mm`'s hook data, valid while `rcu` is held.
#[inline]
fn index_of<'r>(mm: &Mm, _rcu: &'r rcu::Guard) -> Option<&'r Index> {
    // SAFETY: This module is the registered hook (it only runs while a `Hook` holds its
    // registration, or in its callbacks), and it is the only code that reads or writes the
    // word. It stores NULL or `RcuBox::as_ptr()` of an index whose `Live` is in `REGISTRY`. An
    // index is unpublished before its box is dropped, and the box drops and frees it only
    // after a grace period, which cannot end before `_rcu`'s read-side critical section does.
    unsafe {
        fault_hook::hook_data(mm)
            .load(Acquire)
            .cast::<Index>()
            .as_ref()
    }
}

/// Sets `mm`'s hook data: NULL, or an index whose `Live` is in `REGISTRY`, under its lock.
fn publish(mm: &Mm, index: *const Index) {
    // SAFETY: As in `index_of`: this module is the registered hook and the word's only user.
    unsafe { fault_hook::hook_data(mm) }.store(index.cast_mut().cast(), Release);
}

/// The index of `mm`, created if it has none. `None` if out of memory.
fn index_or_create<'r>(mm: &MmWithUser, rcu: &'r rcu::Guard) -> Option<&'r Index> {
    if let Some(idx) = index_of(mm, rcu) {
        return Some(idx);
    }
    let mm_ref: &Mm = mm;
    let live = ListArc::pin_init(
        try_pin_init!(Live {
            index: RcuBox::pin_init(Index::new(), gfp())?,
            mm: ARef::from(mm_ref),
            links <- ListLinks::new(),
        }),
        gfp(),
    )
    .ok()?;
    let p: *const Index = live.index.as_ptr();
    live.index
        .owner
        .store((&raw const *live).cast_mut().cast(), Relaxed);
    let mut reg = REGISTRY.lock();
    if index_of(mm, rcu).is_some() {
        // Another thread of this mm won the race: never published, dropped after a grace
        // period like any other.
        drop(reg);
        drop(live);
        return index_of(mm, rcu);
    }
    reg.live.push_back(live);
    reg.count += 1;
    // INVARIANT: Linked into the registry and published, under the registry lock.
    publish(mm, p);
    drop(reg);
    index_of(mm, rcu)
}

/// Unlinks `mm`'s index from the registry and unpublishes it, under the registry lock; the
/// caller drops (retires) it outside the lock.
fn unpublish(mm: &Mm, rcu: &rcu::Guard) -> Option<ListArc<Live>> {
    let mut reg = REGISTRY.lock();
    // `None`: `drain()` got here first, or the mm never had an index.
    let idx = index_of(mm, rcu)?;
    publish(mm, core::ptr::null());
    let owner = idx.owner.load(Relaxed).cast::<Live>();
    // SAFETY: An index's `owner` is its `Live`, set before the index was published. The index
    // was published, so its `Live` is in `REGISTRY` (which owns it, and is locked): the
    // reference is valid, and the item is in this list and no other.
    let live = unsafe { reg.live.remove(&*owner) };
    if live.is_some() {
        reg.count -= 1;
    }
    live
}

/// The hook.
pub(crate) struct Shadow;

// SAFETY: `lookup` returns only hints that an index holds. An index stores a hint in `fill`,
// made by `VmaHint::of()`, and removes it in `forget`, under the index's lock, before `forget`
// returns; RCU-mode trees guarantee that a lookup whose read-side critical section began
// after that sees it gone. An index unpublished by `drain` or `release` is freed only after a
// grace period. So no lookup returns a hint whose `forget` had returned before it began.
#[vtable]
unsafe impl FaultVmaHook for Shadow {
    /// Where should a fault at `addr` go? Runs on every fault.
    #[inline]
    fn lookup(mm: &MmWithUser, addr: usize, user: bool, rcu: &rcu::Guard) -> Answer {
        let mode = knobs::mode();
        if !user {
            stats::inc(mode, Event::KernelFault);
        }
        let (answer, event) = match mode {
            // Not consulted in `stock` (the core's key is off); counted if a switch races.
            Mode::Stock => (Answer::Pass, Event::Passed),
            Mode::Mmap => (Answer::Mmap, Event::Mmap),
            // Kernel faults with the knob off: as the stock kernel does (careful path).
            Mode::PerVma | Mode::Shadow | Mode::Spec if !user && !knobs::kernel_faults() => {
                (Answer::Pass, Event::Passed)
            }
            Mode::PerVma => (Answer::PerVma, Event::PerVma),
            Mode::Shadow | Mode::Spec => {
                if let Some(p) = index_of(mm, rcu).and_then(|idx| idx.lookup(addr, rcu)) {
                    // Not counted here: the core counts every candidate it validates or
                    // rejects (`fault_vma_hook_hit`/`_miss`) and every speculative fault's
                    // outcome (`fault_spec_*`), so a hit pays no counter.
                    //
                    // SAFETY: The index only stores hints of `VmaHint::as_ptr()` (see `fill`), and
                    // never hands out what it stores for a forgotten range.
                    let hint = unsafe { VmaHint::from_ptr(p.cast()) };
                    return if mode == Mode::Spec {
                        Answer::Speculate(hint)
                    } else {
                        Answer::Candidate(Some(hint))
                    };
                }
                // No hint: the core takes the per-VMA path and tells `fill` what it found.
                (Answer::Candidate(None), Event::NoCandidate)
            }
        };
        stats::inc(mode, event);
        answer
    }

    /// The core found `vma` for a fault in `mm` and holds it locked.
    fn fill(mm: &MmWithUser, vma: &VmaRef, lock: FillLock, rcu: &rcu::Guard) {
        let mode = knobs::mode();
        stats::inc(
            mode,
            match lock {
                FillLock::Mmap => Event::FillCareful,
                FillLock::Vma => Event::FillPerVma,
            },
        );
        if !mode.indexes() {
            return;
        }
        let Some(idx) = index_of(mm, rcu).or_else(|| {
            if young() {
                // A process that has not lived for `min_age_ms` gets no index yet: most
                // short-lived ones never need one.
                stats::inc(mode, Event::Probation);
                return None;
            }
            let idx = index_or_create(mm, rcu);
            if idx.is_none() {
                stats::inc(mode, Event::NoMem);
            }
            idx
        }) else {
            return;
        };
        // Only differences count, modulo 2^32.
        let now = Tick(jiffies() as u32);
        let admit = Admission {
            now,
            after: knobs::admit_ticks(),
        };
        let hint = VmaHint::of(vma).as_ptr().cast();
        match idx.fill(vma.start(), vma.end(), hint, knobs::index_cap(), admit, rcu) {
            Fill::Probation { pruned } => {
                stats::inc(mode, Event::Probation);
                stats::add(mode, Event::Pruned, pruned as u64);
            }
            Fill::Present => stats::inc(mode, Event::Present),
            Fill::Stored { pruned, evicted } => {
                stats::inc(mode, Event::Stored);
                stats::add(mode, Event::Pruned, pruned as u64);
                stats::add(mode, Event::Evicted, evicted as u64);
            }
            Fill::Full { pruned, evicted } => {
                stats::add(mode, Event::Pruned, pruned as u64);
                stats::add(mode, Event::Evicted, evicted as u64);
            }
            Fill::NoMem { pruned } => {
                stats::inc(mode, Event::NoMem);
                stats::add(mode, Event::Pruned, pruned as u64);
            }
        }
    }

    /// `vma` is about to be freed; no index may keep pointing at it.
    fn forget(mm: &Mm, vma: VmaHint, rcu: &rcu::Guard) {
        let Some(idx) = index_of(mm, rcu) else {
            return;
        };
        let n = idx.forget(vma.as_ptr().cast(), rcu);
        if n > 0 {
            stats::add(knobs::mode(), Event::Forgotten, n as u64);
        }
    }

    /// `mm` is being torn down; retire its index.
    fn release(mm: &Mm, rcu: &rcu::Guard) {
        // Dropped outside the registry lock: it empties the index under the index's lock.
        drop(unpublish(mm, rcu));
    }

    /// The module is going away; retire every index.
    fn drain() {
        let mut live = List::new();
        {
            let mut reg = REGISTRY.lock();
            for l in reg.live.iter() {
                publish(&l.mm, core::ptr::null());
            }
            live.push_all_back(&mut reg.live);
            reg.count = 0;
        }
        // Unpublished and out of the registry under its lock: ours. `forget` may still be
        // running on one that it found before it was unpublished; each index is dropped only
        // after a grace period. Dropped one by one, outside any lock.
        while let Some(l) = live.pop_front() {
            drop(l);
        }
    }
}

/// The registered hook. While it lives the core calls [`Shadow`]; dropping it unregisters the
/// hook, after which no callback runs or will run and every index is retired and dropped.
#[pin_data]
pub(crate) struct Hook {
    /// Mode switches hold it, so that the mode and the core's fault-path key agree. Dropped
    /// first: unregistering waits for the callbacks in flight and retires every index.
    #[pin]
    reg: Mutex<Registration<Shadow>>,
    /// Dropped after `reg`.
    _barrier: Barrier,
}

/// When dropped, waits until the last retired index has been dropped, which runs this module's
/// code.
struct Barrier;

impl Drop for Barrier {
    fn drop(&mut self) {
        RcuBox::<Index>::barrier();
    }
}

/// Whether [`register`] has taken on initializing [`REGISTRY`], which must happen once.
static REGISTERED: Atomic<bool> = Atomic::new(false);

/// Prepares the registry and registers the hook in `mode`. Module init does it; any later try
/// fails with `EBUSY` and changes nothing.
pub(crate) fn register(mode: Mode) -> impl PinInit<Hook, Error> {
    try_pin_init!(Hook {
        _: {
            if REGISTERED.xchg(true, Relaxed) {
                return Err(EBUSY);
            }
            // SAFETY: Only the first try gets here, so the lock is initialized once. Nothing can
            // have locked it before: the callbacks run only once the registration below exists,
            // and everything else that locks it is a method of the `Hook` this makes.
            unsafe { REGISTRY.init() };
            knobs::store_mode(mode);
        },
        reg <- new_mutex!(Registration::new(mode != Mode::Stock)?),
        _barrier: Barrier,
    }? Error)
}

impl Hook {
    /// Switches mode. In `stock` the core stops consulting the hook altogether, so faults take
    /// exactly the path they take without the module; `forget` and `release` keep the indexes
    /// consistent meanwhile.
    pub(crate) fn set_mode(&self, mode: Mode) -> Result {
        let reg = self.reg.lock();
        let consult = mode != Mode::Stock;
        // Consulting stops before the mode changes away from a consulting one, and starts
        // after it changed to one: the lookup never sees `stock` but in a race with this
        // switch.
        if !consult {
            reg.enable(false)?;
        }
        knobs::store_mode(mode);
        if consult {
            reg.enable(true)?;
        }
        Ok(())
    }

    /// The number of live indexes and the ranges they hold. Walks every index under the
    /// registry lock: for the `stats` file only, never on a fault.
    pub(crate) fn census(&self) -> (usize, usize) {
        let reg = REGISTRY.lock();
        let entries = reg.live.iter().map(|l| l.index.entries()).sum();
        (reg.count, entries)
    }
}
