// SPDX-License-Identifier: GPL-2.0

//! The core's own counts of candidate hits and misses (`/proc/vmstat`
//! `fault_vma_hook_hit`/`_miss`), since the last reset.

use kernel::{
    bindings,
    prelude::*,
    sync::atomic::{ordering::Relaxed, Atomic},
};

static BASE_HIT: Atomic<u64> = Atomic::new(0);
static BASE_MISS: Atomic<u64> = Atomic::new(0);

/// The core's all-time `(hits, misses)`. May sleep.
fn read() -> Result<(u64, u64)> {
    let n = bindings::vm_event_item_NR_VM_EVENT_ITEMS as usize;
    let mut events = KVec::from_elem(0 as c_ulong, n, GFP_KERNEL)?;
    // SAFETY: `events` holds `NR_VM_EVENT_ITEMS` counters, as `all_vm_events()` writes.
    unsafe { bindings::all_vm_events(events.as_mut_ptr()) };
    let get = |i: u32| events.get(i as usize).copied().unwrap_or(0) as u64;
    Ok((
        get(bindings::vm_event_item_FAULT_VMA_HOOK_HIT),
        get(bindings::vm_event_item_FAULT_VMA_HOOK_MISS),
    ))
}

/// Validated candidates (hits) and failed ones (misses) since the last [`reset`].
pub(crate) fn hits_misses() -> Result<(u64, u64)> {
    let (hit, miss) = read()?;
    Ok((
        hit.wrapping_sub(BASE_HIT.load(Relaxed)),
        miss.wrapping_sub(BASE_MISS.load(Relaxed)),
    ))
}

/// Starts counting from now.
pub(crate) fn reset() -> Result {
    let (hit, miss) = read()?;
    BASE_HIT.store(hit, Relaxed);
    BASE_MISS.store(miss, Relaxed);
    Ok(())
}
