// SPDX-License-Identifier: GPL-2.0

//! The fault path's side: the callbacks the core's fault VMA lookup hook calls, the per-mm
//! index each mm keeps in `mm->fault_vma_data`, the registration and the knobs that steer them.
//!
//! Lifetimes, in one place:
//! - An index is created only by [`fill`], for the faulting task's own mm (so the mm has
//!   users and cannot be torn down meanwhile), published in `mm->fault_vma_data` and recorded
//!   in [`REGISTRY`], both under the registry lock.
//! - It is retired (emptied, then freed after a grace period, so lockless readers never see
//!   freed memory) either by [`release`] when its mm exits, or by [`drain`] when the module
//!   unloads. Both unpublish it under the registry lock, so exactly one of them retires it, and
//!   an index still in the registry proves its mm has not finished exiting. Both are O(1) per
//!   index under the lock; the retiring (which may free thousands of nodes) runs outside it.
//! - Every callback runs under the core's `rcu_read_lock()`. Unregistering stops [`lookup`]
//!   and [`fill`], waits for a grace period, calls [`drain`] while [`forget`] and [`release`]
//!   still run, and only then stops those.
//!
//! Locking, outer to inner: the core's mmap_lock or VMA lock (around [`fill`] and [`forget`]),
//! then either [`REGISTRY`] (create, release, drain, census) or one index's tree lock (fill,
//! forget, retire); never both. [`SWITCH`] (mode switches, which patch code) is taken alone,
//! in process context.

use crate::{
    mode::{self, Mode},
    rcu_maple::RcuSection,
    shadow_index::{Admission, Fill, ShadowIndex},
    stats::{self, Event},
};
use core::ptr::NonNull;
use kernel::{
    bindings,
    error::to_result,
    mm::virt::VmaRef,
    prelude::*,
    sync::{
        atomic::{
            ordering::{Acquire, Relaxed, Release},
            Atomic,
        },
        global_lock,
    },
};

type Vma = bindings::vm_area_struct;
type Index = ShadowIndex<Vma>;

/// Ranges one index may hold before it evicts: the default `vm.max_map_count` (65530),
/// rounded up, so that by default a process's index never evicts. Index memory is charged to
/// the process's memory cgroup.
pub(crate) const INDEX_CAP_DEFAULT: usize = 65536;

/// The largest `index_cap` accepted.
pub(crate) const INDEX_CAP_MAX: usize = 1 << 20;

static INDEX_CAP: Atomic<usize> = Atomic::new(INDEX_CAP_DEFAULT);

/// Sets the per-mm cap (1..=[`INDEX_CAP_MAX`]); applies from the next fill.
pub(crate) fn set_index_cap(cap: usize) -> Result {
    if !(1..=INDEX_CAP_MAX).contains(&cap) {
        return Err(EINVAL);
    }
    INDEX_CAP.store(cap, Relaxed);
    Ok(())
}

/// The per-mm cap.
pub(crate) fn index_cap() -> usize {
    INDEX_CAP.load(Relaxed)
}

/// How long a VMA must keep missing before it is indexed, by default: longer than a burst of
/// faults on a short-lived mapping, shorter than anything a steady workload would notice.
pub(crate) const ADMIT_MS_DEFAULT: u32 = 10;

/// The largest `admit_ms` accepted.
pub(crate) const ADMIT_MS_MAX: u32 = 10_000;

static ADMIT_MS: Atomic<u32> = Atomic::new(ADMIT_MS_DEFAULT);
static ADMIT_TICKS: Atomic<u32> = Atomic::new(0);

/// Sets the admission delay (0..=[`ADMIT_MS_MAX`] ms, 0: index a VMA at its first miss).
pub(crate) fn set_admit_ms(ms: u32) -> Result {
    if ms > ADMIT_MS_MAX {
        return Err(EINVAL);
    }
    // At least one tick more than asked for when asked for anything: the first miss may come
    // at the end of its tick.
    let ticks = if ms == 0 {
        0
    } else {
        kernel::time::msecs_to_jiffies(ms) as u32 + 1
    };
    ADMIT_MS.store(ms, Relaxed);
    ADMIT_TICKS.store(ticks, Relaxed);
    Ok(())
}

/// The admission delay in ms.
pub(crate) fn admit_ms() -> u32 {
    ADMIT_MS.load(Relaxed)
}

fn admission() -> Admission {
    // SAFETY: `jiffies` is a kernel global, always readable; it is written by the timer tick,
    // hence the volatile read.
    let now = unsafe { core::ptr::read_volatile(&raw const bindings::jiffies) };
    Admission {
        // Only differences count, modulo 2^32.
        now: now as u32,
        after: ADMIT_TICKS.load(Relaxed),
    }
}

/// A live index, owned by the registry.
///
/// # Invariants
///
/// Points to a pinned, heap-allocated [`ShadowIndex`] that is published in its mm's
/// `fault_vma_data` for as long as it is in the registry.
struct Live(NonNull<Index>);

// SAFETY: The pointee is `Send`; the registry lock serializes who retires it.
unsafe impl Send for Live {}

global_lock! {
    // SAFETY: Initialized by `init()` before the hook is registered.
    //
    // Every live index, each knowing its place (`ShadowIndex::place`), so that adding and
    // removing one are O(1) whatever the number of processes.
    unsafe(uninit) static REGISTRY: SpinLock<KVec<Live>> = KVec::new();
}

global_lock! {
    // SAFETY: Initialized by `init()` before the hook is registered.
    //
    // Serializes mode switches, so that the mode and the core's fault-path key agree.
    unsafe(uninit) static SWITCH: Mutex<()> = ();
}

/// Prepares the module-global state. Must be called once, before [`Registration::new`].
pub(crate) fn init() {
    // SAFETY: Called once, from module init, before anything can take the locks.
    unsafe {
        REGISTRY.init();
        SWITCH.init();
    }
}

/// The mm's `fault_vma_data`, as an atomic pointer to our index.
///
/// # Safety
///
/// `mm` must point to a live `mm_struct` for `'a`.
unsafe fn slot<'a>(mm: *mut bindings::mm_struct) -> &'a Atomic<*mut Index> {
    // SAFETY: `mm` is live (caller); the helper returns the address of its `fault_vma_data`, a
    // pointer-sized, aligned field that only this module and the core's NULL checks touch.
    unsafe { Atomic::from_ptr(bindings::mm_fault_vma_data(mm).cast()) }
}

/// The index published for `mm`, valid while `rcu` is held.
///
/// # Safety
///
/// `mm` must point to a live `mm_struct`.
#[inline]
unsafe fn index_of<'r>(mm: *mut bindings::mm_struct, _rcu: &'r RcuSection) -> Option<&'r Index> {
    // SAFETY: `mm` is live (caller).
    let p = unsafe { slot(mm) }.load(Acquire);
    // SAFETY: A published index is freed only after a grace period that starts after it was
    // unpublished, and `_rcu` proves we are in a read-side section that began earlier.
    unsafe { p.as_ref() }
}

/// Empties an unpublished index and frees it after a grace period.
///
/// # Safety
///
/// `index` came from [`KBox::into_raw`], is no longer reachable from any mm or the registry,
/// and is not used by the caller afterwards.
unsafe fn retire(index: NonNull<Index>) {
    // SAFETY: Valid until the grace period below ends (caller).
    let idx = unsafe { index.as_ref() };
    idx.clear();
    // SAFETY: The allocation is a `KBox` (kmalloc); the tree is empty and owns nothing else, so
    // freeing without running its destructor leaks nothing. Readers that found the index before
    // it was unpublished are covered by the grace period; `rcu` is unused otherwise.
    unsafe { bindings::kvfree_call_rcu(idx.rcu.get(), index.as_ptr().cast()) };
}

/// The index of `mm`, created if it has none. `None` if out of memory.
///
/// # Safety
///
/// `mm` is the faulting task's own mm (live, with users) and the caller is inside an RCU
/// read-side critical section covering the returned reference.
unsafe fn index_or_create<'r>(
    mm: *mut bindings::mm_struct,
    rcu: &'r RcuSection,
) -> Option<&'r Index> {
    // SAFETY: `mm` is live (caller).
    if let Some(idx) = unsafe { index_of(mm, rcu) } {
        return Some(idx);
    }
    // Charged to the faulting task's memory cgroup, as the tree's nodes are (`__GFP_ACCOUNT`,
    // which `kernel::alloc::flags` spells only inside `GFP_KERNEL_ACCOUNT`).
    let account = GFP_KERNEL_ACCOUNT & !GFP_KERNEL;
    let new = KBox::pin_init(Index::new(mm), GFP_NOWAIT | account).ok()?;
    // SAFETY: The index stays pinned: it is only ever used through this pointer until
    // `retire()`.
    let new = NonNull::from(KBox::leak(unsafe { Pin::into_inner_unchecked(new) }));

    let mut reg = REGISTRY.lock();
    // SAFETY: `mm` is live (caller).
    let slot = unsafe { slot(mm) };
    let current = slot.load(Relaxed);
    if !current.is_null() || reg.push(Live(new), GFP_NOWAIT).is_err() {
        // Another thread of this mm won the race, or no memory: never published, so free now.
        drop(reg);
        // SAFETY: `new` came from `KBox::leak` above and was never shared.
        drop(unsafe { KBox::from_raw(new.as_ptr()) });
        // SAFETY: A published index is valid under `rcu` (see `index_of`).
        return unsafe { current.as_ref() };
    }
    // SAFETY: `new` is live and ours until published.
    unsafe { new.as_ref() }.place.store(reg.len() - 1, Relaxed);
    // INVARIANT: Recorded in the registry and published, under the registry lock.
    slot.store(new.as_ptr(), Release);
    // SAFETY: Just published; valid under `rcu` (see `index_of`).
    Some(unsafe { new.as_ref() })
}

/// `lookup`: where should a fault at `addr` go? Runs on every fault.
///
/// # Safety
///
/// Called by the core under `rcu_read_lock()`, for a live `mm`, with `vmap` writable.
unsafe extern "C" fn lookup(
    mm: *mut bindings::mm_struct,
    addr: usize,
    user: bool,
    vmap: *mut *mut Vma,
) -> bindings::fault_vma_answer {
    let mode = mode::current();
    if !user {
        stats::inc(mode, Event::KernelFault);
    }
    let (answer, event) = match mode {
        Mode::Stock => (bindings::fault_vma_answer_FAULT_VMA_PASS, Event::Passed),
        Mode::Mmap => (bindings::fault_vma_answer_FAULT_VMA_MMAP, Event::Mmap),
        // Kernel faults with the knob off: as the stock kernel does (careful path).
        Mode::PerVma | Mode::Shadow if !user && !mode::kernel_faults() => {
            (bindings::fault_vma_answer_FAULT_VMA_PASS, Event::Passed)
        }
        Mode::PerVma => (bindings::fault_vma_answer_FAULT_VMA_PERVMA, Event::PerVma),
        Mode::Shadow => {
            // SAFETY: The core calls the hook under `rcu_read_lock()`.
            let rcu = unsafe { RcuSection::assume_held() };
            // SAFETY: `mm` is live (the core's contract).
            let hint = unsafe { index_of(mm, &rcu) }.and_then(|idx| idx.lookup(addr, &rcu));
            match hint {
                Some(vma) => {
                    // SAFETY: `vmap` is writable (the core's contract). The pointer is only a
                    // hint: the core validates it before use.
                    unsafe { *vmap = vma.as_ptr() };
                    (
                        bindings::fault_vma_answer_FAULT_VMA_CANDIDATE,
                        Event::Candidate,
                    )
                }
                // No hint: the core takes the per-VMA path and tells `fill` what it found.
                None => (
                    bindings::fault_vma_answer_FAULT_VMA_CANDIDATE,
                    Event::NoCandidate,
                ),
            }
        }
    };
    stats::inc(mode, event);
    answer
}

/// `fill`: the core found `vma` for a fault in `mm`, and holds it locked.
///
/// # Safety
///
/// Called by the core under `rcu_read_lock()`, for the faulting task's own `mm`, with `vma`
/// locked (per-VMA read lock or mmap_lock) for the duration of the call.
unsafe extern "C" fn fill(mm: *mut bindings::mm_struct, vma: *mut Vma, mmap_locked: bool) {
    let mode = mode::current();
    let event = if mmap_locked {
        Event::FillCareful
    } else {
        Event::FillPerVma
    };
    stats::inc(mode, event);
    if mode != Mode::Shadow {
        return;
    }
    // SAFETY: The VMA is locked (the core's contract), so its range is stable and readable.
    let v = unsafe { VmaRef::from_raw(vma) };
    let (start, end) = (v.start(), v.end());
    // SAFETY: The core calls the hook under `rcu_read_lock()`.
    let rcu = unsafe { RcuSection::assume_held() };
    // SAFETY: `mm` is the faulting task's mm, and we are under RCU.
    let Some(idx) = (unsafe { index_or_create(mm, &rcu) }) else {
        stats::inc(mode, Event::NoMem);
        return;
    };
    // `vma` is non-NULL: the core only fills VMAs it found.
    let Some(vma) = NonNull::new(vma) else {
        return;
    };
    match idx.fill(start, end, vma, index_cap(), admission()) {
        Fill::Present => stats::inc(mode, Event::Present),
        Fill::Probation => stats::inc(mode, Event::Probation),
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

/// `forget`: `vma` is about to be freed; no index may keep pointing at it.
///
/// # Safety
///
/// Called by the core under `rcu_read_lock()` with `mm` live.
unsafe extern "C" fn forget(mm: *mut bindings::mm_struct, vma: *mut Vma) {
    // SAFETY: The core calls the hook under `rcu_read_lock()`.
    let rcu = unsafe { RcuSection::assume_held() };
    // SAFETY: `mm` is live (the core's contract).
    let (Some(idx), Some(vma)) = (unsafe { index_of(mm, &rcu) }, NonNull::new(vma)) else {
        return;
    };
    let n = idx.forget(vma);
    if n > 0 {
        stats::add(mode::current(), Event::Forgotten, n as u64);
    }
}

/// `release`: `mm` is being torn down; retire its index.
///
/// # Safety
///
/// Called by the core from `exit_mmap()` under `rcu_read_lock()`, `mm` live.
unsafe extern "C" fn release(mm: *mut bindings::mm_struct) {
    let mut reg = REGISTRY.lock();
    // SAFETY: `mm` is live (the core's contract).
    let slot = unsafe { slot(mm) };
    let Some(index) = NonNull::new(slot.load(Relaxed)) else {
        // `drain()` got here first.
        return;
    };
    slot.store(core::ptr::null_mut(), Release);
    // SAFETY: Published, hence in the registry and live.
    let at = unsafe { index.as_ref() }.place.load(Relaxed);
    let at = if reg.get(at).is_some_and(|l| l.0 == index) {
        Some(at)
    } else {
        // The place did not name this index: a broken invariant. Find it (O(n), never
        // expected), since it is retired below and `drain` must not see it again.
        kernel::warn_on!(true);
        reg.iter().position(|l| l.0 == index)
    };
    // Remove it without allocating: the last one takes its place.
    if let Some(at) = at {
        if let Some(last) = reg.pop() {
            if at < reg.len() {
                // SAFETY: In the registry, hence live.
                unsafe { last.0.as_ref() }.place.store(at, Relaxed);
                reg[at] = last;
            }
        }
    }
    drop(reg);
    // SAFETY: Unpublished and out of the registry, under the registry lock: we own it now.
    unsafe { retire(index) };
}

/// `drain`: the module is going away; retire every index.
///
/// # Safety
///
/// Called by `fault_vma_hook_unregister()` once `lookup` and `fill` can no longer run.
unsafe extern "C" fn drain() {
    let live = {
        let mut reg = REGISTRY.lock();
        for l in reg.iter() {
            // SAFETY: The index is still in the registry, so `release()` has not run for its
            // mm, which therefore is still live.
            unsafe { slot((*l.0.as_ptr()).mm) }.store(core::ptr::null_mut(), Release);
        }
        core::mem::take(&mut *reg)
    };
    // Unpublished and out of the registry under its lock: ours. `forget` may still be running
    // on one that it found before it was unpublished; `retire` takes the tree lock and frees
    // after a grace period.
    for Live(index) in live {
        // SAFETY: See above.
        unsafe { retire(index) };
    }
}

/// The number of live indexes and the ranges they hold.
pub(crate) fn census() -> (usize, usize) {
    let reg = REGISTRY.lock();
    // SAFETY: Indexes in the registry are live (type invariant of `Live`).
    let entries = reg.iter().map(|l| unsafe { l.0.as_ref() }.entries()).sum();
    (reg.len(), entries)
}

static OPS: bindings::fault_vma_hook_ops = bindings::fault_vma_hook_ops {
    lookup: Some(lookup),
    fill: Some(fill),
    forget: Some(forget),
    release: Some(release),
    drain: Some(drain),
};

/// Switches mode. In `stock` the core stops consulting the hook altogether, so faults take
/// exactly the path they take without the module; `forget` and `release` keep the indexes
/// consistent meanwhile.
pub(crate) fn set_mode(mode: Mode) -> Result {
    let _guard = SWITCH.lock();
    let consult = mode != Mode::Stock;
    // Consulting stops before the mode changes away from a consulting one, and starts after it
    // changed to one: the lookup never sees `stock`.
    if !consult {
        // SAFETY: `OPS` is registered (a `Registration` exists while the mode can change).
        to_result(unsafe { bindings::fault_vma_hook_enable(&OPS, false) })?;
    }
    mode::set(mode);
    if consult {
        // SAFETY: As above.
        to_result(unsafe { bindings::fault_vma_hook_enable(&OPS, true) })?;
    }
    Ok(())
}

/// The hook, registered with the core for as long as this value lives.
pub(crate) struct Registration(());

impl Registration {
    /// Registers the hook in `mode`; fails with `EBUSY` if another hook is registered.
    pub(crate) fn new(mode: Mode) -> Result<Self> {
        // SAFETY: `OPS` is static and every callback in it honours the core's contract.
        to_result(unsafe { bindings::fault_vma_hook_register(&OPS) })?;
        let reg = Self(());
        set_mode(mode)?;
        Ok(reg)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: Registered in `new()`. After this returns no callback runs or will run, and
        // every index has been retired.
        unsafe { bindings::fault_vma_hook_unregister(&OPS) };
    }
}
