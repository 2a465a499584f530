// SPDX-License-Identifier: GPL-2.0

//! The fault path's side: [`Shadow`], the hook the core's fault VMA lookup calls, the per-mm
//! index each mm keeps in its hook data, and the registration that mode switches steer.
//!
//! Lifetimes, in one place:
//! - An index is created only by [`Shadow::fill`], for the faulting task's own mm (so the mm
//!   has users and cannot be torn down meanwhile), when the first of its VMAs is admitted
//!   (see [`crate::probation`]). It is published in the mm's hook data and recorded in
//!   [`REGISTRY`], both under the registry lock.
//! - It is retired (emptied, then freed after a grace period, so lockless readers never see
//!   freed memory: [`RcuBox`]) either by [`Shadow::release`] when its mm exits, or by
//!   [`Shadow::drain`] when the module unloads. Both unpublish it under the registry lock, so
//!   exactly one of them retires it, and an index still in the registry proves its mm has not
//!   finished exiting. Both are O(1) per index under the lock; the retiring (which may free
//!   thousands of nodes) runs outside it.
//! - Unregistering stops [`Shadow::lookup`] and [`Shadow::fill`], waits for a grace period,
//!   calls [`Shadow::drain`] while [`Shadow::forget`] and [`Shadow::release`] still run, and
//!   only then stops those.
//!
//! # Locking
//!
//! Outer to inner:
//! 1. [`HOOK`] (mode switches and unregistering, which patch code and may sleep), alone, in
//!    process context;
//! 2. the core's `mmap_lock` or VMA lock (around `fill` and `forget`);
//! 3. either [`REGISTRY`] (create, release, drain, census) or one index's lock (fill, forget,
//!    retire); never both.

use crate::{
    knobs,
    mode::Mode,
    probation::Tick,
    rcu_box::RcuBox,
    shadow_index::{gfp, Admission, Fill, ShadowIndex},
    stats::{self, Event},
};
use kernel::{
    bindings,
    mm::{
        fault_hook::{self, Answer, FaultVmaHook, FillLock, Registration, VmaHint},
        virt::VmaRef,
        Mm, MmWithUser,
    },
    prelude::*,
    sync::{
        aref::ARef,
        atomic::ordering::{Acquire, Relaxed, Release},
        global_lock, rcu,
    },
    task::Task,
};

type Vma = bindings::vm_area_struct;
type Index = ShadowIndex<Vma>;

// A process's index is one kmalloc-2k object, RCU head included (lock debugging makes the lock,
// and so the index, bigger).
const _: () = assert!(
    RcuBox::<Index>::ALLOC_SIZE
        <= if cfg!(CONFIG_DEBUG_LOCK_ALLOC) {
            4096
        } else {
            2048
        }
);

global_lock! {
    // SAFETY: Initialized by `init()` before the hook is registered.
    //
    // Every live index, each knowing its place (`ShadowIndex::place`), so that adding and
    // removing one are O(1) whatever the number of processes.
    unsafe(uninit) static REGISTRY: SpinLock<KVec<Live>> = KVec::new();
}

/// A live index and the mm it is published in.
struct Live {
    index: RcuBox<Index>,
    /// Keeps the `mm_struct` (not its address space) alive, so that `drain` can clear its hook
    /// data whenever it runs.
    mm: ARef<Mm>,
}

global_lock! {
    // SAFETY: Initialized by `init()` before the hook is registered.
    //
    // The registration while the module is loaded; mode switches hold it, so that the mode and
    // the core's fault-path key agree.
    unsafe(uninit) static HOOK: Mutex<Option<Registration<Shadow>>> = None;
}

/// Whether the faulting process started less than `admit_ms` ago.
fn young() -> bool {
    let after_ns = u64::from(knobs::admit_ms()) * 1_000_000;
    if after_ns == 0 {
        return false;
    }
    let task = Task::current_raw();
    // SAFETY: `current` is live while it runs. Its `group_leader` is a live task for as long as
    // this thread belongs to the group, and task structs are freed after an RCU grace period,
    // which the caller's read-side critical section (the hook's) holds off in any case. The
    // start time is written once, before the task first runs.
    let start = unsafe { (*(*task).group_leader).start_time };
    // SAFETY: No preconditions; reads the monotonic clock, in any context.
    let now = unsafe { bindings::ktime_get() } as u64;
    now.wrapping_sub(start) < after_ns
}

/// The index published in `mm`'s hook data, valid while `rcu` is held.
#[inline]
fn index_of<'r>(mm: &Mm, _rcu: &'r rcu::Guard) -> Option<&'r Index> {
    let p = fault_hook::hook_data(mm).load(Acquire).cast::<Index>();
    // SAFETY: Only this module writes the hook data while it is registered, and only with
    // NULL or `RcuBox::as_ptr()` of an index in `REGISTRY`. An index is unpublished before its
    // box is dropped, and the box frees it only after a grace period, which cannot end before
    // `_rcu`'s read-side critical section does.
    unsafe { p.as_ref() }
}

/// The index of `mm`, created if it has none. `None` if out of memory.
fn index_or_create<'r>(mm: &MmWithUser, rcu: &'r rcu::Guard) -> Option<&'r Index> {
    if let Some(idx) = index_of(mm, rcu) {
        return Some(idx);
    }
    let index = RcuBox::pin_init(Index::new(), gfp()).ok()?;
    let data = fault_hook::hook_data(mm);
    let mut reg = REGISTRY.lock();
    if !data.load(Relaxed).is_null() || reg.reserve(1, gfp()).is_err() {
        // Another thread of this mm won the race, or no memory: never published.
        drop(reg);
        drop(index);
        return index_of(mm, rcu);
    }
    index.place.store(reg.len(), Relaxed);
    let p = index.as_ptr();
    let mm_ref: &Mm = mm;
    // Cannot fail: reserved above.
    let _ = reg.push(
        Live {
            index,
            mm: ARef::from(mm_ref),
        },
        gfp(),
    );
    // INVARIANT: Recorded in the registry and published, under the registry lock.
    data.store(p.cast_mut().cast(), Release);
    index_of(mm, rcu)
}

/// Removes `mm`'s index from the registry and unpublishes it, under the registry lock; the
/// caller drops (retires) it outside the lock.
fn unpublish(mm: &Mm, rcu: &rcu::Guard) -> Option<Live> {
    let mut reg = REGISTRY.lock();
    // `None`: `drain()` got here first, or the mm never had an index.
    let idx = index_of(mm, rcu)?;
    fault_hook::hook_data(mm).store(core::ptr::null_mut(), Release);
    let p: *const Index = idx;
    let mut at = idx.place.load(Relaxed);
    if reg.get(at).is_none_or(|l| l.index.as_ptr() != p) {
        // The place did not name this index: a broken invariant. Find it (O(n), never
        // expected), since it is retired here and `drain` must not see it again.
        kernel::warn_on!(true);
        at = reg.iter().position(|l| l.index.as_ptr() == p)?;
    }
    // Remove it without allocating: the last one takes its place.
    let last = reg.pop()?;
    if at == reg.len() {
        return Some(last);
    }
    last.index.place.store(at, Relaxed);
    Some(core::mem::replace(&mut reg[at], last))
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
            Mode::PerVma | Mode::Shadow if !user && !knobs::kernel_faults() => {
                (Answer::Pass, Event::Passed)
            }
            Mode::PerVma => (Answer::PerVma, Event::PerVma),
            Mode::Shadow => {
                if let Some(p) = index_of(mm, rcu).and_then(|idx| idx.lookup(addr, rcu)) {
                    // Not counted here: the core counts every candidate it validates or
                    // rejects (`fault_vma_hook_hit`/`_miss`), so a hit pays no counter.
                    //
                    // SAFETY: The index only stores hints of `VmaHint::as_ptr()` (see `fill`).
                    return Answer::Candidate(Some(unsafe { VmaHint::from_ptr(p) }));
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
        if mode != Mode::Shadow {
            return;
        }
        let Some(idx) = index_of(mm, rcu).or_else(|| {
            if young() {
                // A process that has not lived for `admit_ms` gets no index yet: most
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
        // SAFETY: `jiffies` is a kernel global, always readable; the timer tick writes it,
        // hence the volatile read. Only differences count, modulo 2^32.
        let now = Tick(unsafe { core::ptr::read_volatile(&raw const bindings::jiffies) } as u32);
        let admit = Admission {
            now,
            after: knobs::admit_ticks(),
        };
        let hint = VmaHint::of(vma).as_ptr();
        match idx.fill(vma.start(), vma.end(), hint, knobs::index_cap(), admit, rcu) {
            Fill::Probation => stats::inc(mode, Event::Probation),
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
        let n = idx.forget(vma.as_ptr(), rcu);
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
        let live = {
            let mut reg = REGISTRY.lock();
            for l in reg.iter() {
                fault_hook::hook_data(&l.mm).store(core::ptr::null_mut(), Release);
            }
            core::mem::take(&mut *reg)
        };
        // Unpublished and out of the registry under its lock: ours. `forget` may still be
        // running on one that it found before it was unpublished; dropping takes the index's
        // lock and frees after a grace period.
        drop(live);
    }
}

/// Prepares the module-global state and registers the hook in `mode`.
///
/// # Safety
///
/// Called once, before anything else in this file runs (module init).
pub(crate) unsafe fn register(mode: Mode) -> Result {
    // SAFETY: Called once, before anything can take the locks (the caller's contract).
    unsafe {
        REGISTRY.init();
        HOOK.init();
    }
    let mut hook = HOOK.lock();
    knobs::store_mode(mode);
    *hook = Some(Registration::new(mode != Mode::Stock)?);
    Ok(())
}

/// Unregisters the hook: afterwards no callback runs or will run, and every index is retired.
/// Called once, from module exit.
pub(crate) fn unregister() {
    let reg = HOOK.lock().take();
    drop(reg);
}

/// Switches mode. In `stock` the core stops consulting the hook altogether, so faults take
/// exactly the path they take without the module; `forget` and `release` keep the indexes
/// consistent meanwhile.
pub(crate) fn set_mode(mode: Mode) -> Result {
    let hook = HOOK.lock();
    let reg = hook.as_ref().ok_or(ENODEV)?;
    let consult = mode != Mode::Stock;
    // Consulting stops before the mode changes away from a consulting one, and starts after
    // it changed to one: the lookup never sees `stock` but in a race with this switch.
    if !consult {
        reg.enable(false)?;
    }
    knobs::store_mode(mode);
    if consult {
        reg.enable(true)?;
    }
    Ok(())
}

/// The number of live indexes and the ranges they hold.
pub(crate) fn census() -> (usize, usize) {
    let reg = REGISTRY.lock();
    let entries = reg.iter().map(|l| l.index.entries()).sum();
    (reg.len(), entries)
}
